"""Notifications beyond the digest's file and e-mail: Apprise channels (Slack, ntfy, Matrix,
webhooks, …) that receive the digest, alerts when a claim's standing changes, and source health,
each message recorded in one ledger so that it is sent once (README, "Alerts and other channels").

`notices` decides what to say (pure); `channel` says it through Apprise; `run` strings them
together with the ledger (`monitor.storage.notifications`)."""
