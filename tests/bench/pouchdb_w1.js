// W1 with PouchDB, the engine of the Community Health Toolkit, for `make bench`.
//
// express-pouchdb (in memory) serves as the CouchDB-compatible server on a free port; a local
// PouchDB (memory adapter) holds 10,000 contact notes (400 characters each) across 500 people and
// replicates them to the server (push); a fresh local PouchDB replicates them back (pull); then an
// incremental pull with nothing new. Prints one JSON object on stdout.
//
// Usage: node pouchdb_w1.js NODE_MODULES_DIR [notes] [people] [batch_size]
"use strict";

const path = require("path");
const moduleDir = process.argv[2];
const NOTES = parseInt(process.argv[3] || "10000", 10);
const PEOPLE = parseInt(process.argv[4] || "500", 10);
const BATCH_SIZE = parseInt(process.argv[5] || "100", 10); // PouchDB's default is 100
const need = (name) => require(path.join(moduleDir, name));

const PouchDB = need("pouchdb-core")
  .plugin(need("pouchdb-adapter-memory"))
  .plugin(need("pouchdb-adapter-http"))
  .plugin(need("pouchdb-replication"));
const express = need("express");
const expressPouchDB = need("express-pouchdb");

const ServerPouch = PouchDB.defaults({ adapter: "memory" });

function note(i) {
  const base = `Met at the gate at 07:${String(i % 60).padStart(2, "0")}; talked through housing, benefits and the probation appointment. `;
  return base.repeat(Math.ceil(400 / base.length)).slice(0, 400);
}

async function replicate(source, target) {
  const started = process.hrtime.bigint();
  const result = await PouchDB.replicate(source, target, { batch_size: BATCH_SIZE });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!result.ok || result.doc_write_failures) {
    throw new Error(`replication failed: ${JSON.stringify(result)}`);
  }
  return { seconds, docs_written: result.docs_written };
}

async function main() {
  const app = express();
  app.use("/", expressPouchDB(ServerPouch, { mode: "minimumForPouchDB", inMemoryConfig: true }));
  const server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${server.address().port}/notes`;
  try {
    const remote = new PouchDB(url);
    await remote.info(); // creates the database on the server

    const device = new PouchDB("device-a", { adapter: "memory" });
    const writeStarted = process.hrtime.bigint();
    const docs = [];
    for (let i = 0; i < NOTES; i++) {
      const person = i % PEOPLE;
      docs.push({
        _id: `contact:${String(person).padStart(4, "0")}:${String(i).padStart(6, "0")}`,
        type: "contact",
        person: `person:${String(person).padStart(4, "0")}`,
        occurred_at: "2026-11-22T07:30",
        note: note(i),
      });
    }
    for (let start = 0; start < docs.length; start += 500) {
      await device.bulkDocs(docs.slice(start, start + 500));
    }
    const writeSeconds = Number(process.hrtime.bigint() - writeStarted) / 1e9;

    const push = await replicate(device, remote);
    const fresh = new PouchDB("device-b", { adapter: "memory" });
    const pull = await replicate(remote, fresh);
    const info = await fresh.info();
    if (info.doc_count !== NOTES) throw new Error(`pulled ${info.doc_count} of ${NOTES} docs`);
    const noops = [];
    for (let i = 0; i < 5; i++) noops.push((await replicate(remote, fresh)).seconds * 1000);
    noops.sort((a, b) => a - b);

    process.stdout.write(
      JSON.stringify({
        notes: NOTES,
        people: PEOPLE,
        batch_size: BATCH_SIZE,
        local_write_notes_per_s: NOTES / writeSeconds,
        push_s: push.seconds,
        push_notes_per_s: NOTES / push.seconds,
        pull_s: pull.seconds,
        pull_notes_per_s: NOTES / pull.seconds,
        noop_pull_ms: noops[Math.floor(noops.length / 2)],
        node: process.version,
      }) + "\n"
    );
  } finally {
    server.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exit(1);
  }
);
