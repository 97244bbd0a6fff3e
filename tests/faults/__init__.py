"""The fault campaign of issue 3: random offline and online work under network faults and crashes.

``python -m tests.faults --schedules N --seed S`` runs it at scale; ``test_fault_campaign.py`` runs a
small campaign in the suite; ``test_server_kill.py`` kills a real server process mid-batch.
"""
