"""A stateful local emulator of the Campaign Monitor API v3.3, for tests, benchmarks and demos.

with CampaignMonitorEmulator(seed="demo") as emu:
    requests.get(emu.base_url + "/clients.json", auth=(emu.info()["accounts"][0]["api_key"], "x"))

List webhooks (webhooks.py): the API creates, lists, tests, activates, deactivates and
deletes them; every change to a subscriber queues Subscribe, Update or Deactivate events,
which a background thread POSTs as JSON to the webhook's URL, up to 1000 per POST, retrying
failures. Controls, in process (CampaignMonitorEmulator methods) and over HTTP:

    emu.set_webhook_retry_delays([0.1, 0.2])  # waits before each retry (0.5, 1, 2, 4 s)
    ...create a webhook through the API, change subscribers...
    emu.wait_webhooks(10)          # True once nothing is queued, retrying or in flight
    emu.webhook_deliveries()       # every POST: WebhookID, batch, attempt, status, payload...
    emu.pause_webhooks(); emu.resume_webhooks()   # hold deliveries (events batch up)
    emu.redeliver_last_webhook()   # the last batch again, unchanged (optionally of one hook)
    emu.webhooks(); emu.clear_webhook_deliveries()

  GET /_emulator/webhooks; GET|DELETE /_emulator/webhooks/deliveries; POST
  /_emulator/webhooks/wait {"timeout"?} -> {"idle", "deliveries"}; POST
  /_emulator/webhooks/pause, /resume, /redeliver_last {"WebhookID"?}, /retry_delays
  {"retry_delays"}.

Known differences from Campaign Monitor, on purpose or for want of evidence:

List webhooks
- Events are POSTed only to http(s) URLs on 127.0.0.1 or localhost. A webhook with any other
  URL is created and listed as Campaign Monitor would, but its batches are recorded as not
  sent (no retries) and the test route answers Code 610.
- Xml webhooks are accepted and listed, but their events are not sent (recorded as not sent):
  no source shows the XML payload. Only the JSON payload is built, to the docs' example.
- Failed POSTs are retried after each of retry_delays (0.5, 1, 2, 4 s by default); when they
  run out the webhook is deactivated and its queued events dropped. Campaign Monitor
  publishes no retry schedule and deactivates a webhook after a week of errors.
- A webhook's batches go one at a time, in order; events that arrive meanwhile wait and batch
  up. Queued events live in memory: stopping the emulator loses them (webhooks themselves
  are kept in a data_dir).
- Status "Deactivated" for a deactivated webhook is a guess (the sample shows only "Active").
- An unknown WebhookID is a 404 with an empty body (no documented code).
- Subscribe events give SignupIPAddress "TypeAPI" for every subscriber the API or the
  control surface added (the docs show an IP for forms and "TypeManual" for the app).
- Update is sent for every add, update or import of an existing subscriber, changed or
  not (the docs: "re-adding/updating through the API", "re-importing"), and always carries
  OldEmailAddress (equal to EmailAddress when the address did not change). A resubscribing
  add sends an Update and then a Subscribe. A change into Unconfirmed sends nothing; a
  change into Unsubscribed, Bounced or Deleted sends Deactivate with that State.
- The test route POSTs one sample event (the docs' example subscriber) per event type of
  the webhook; its failure's ResultData uses the names of createsend-dotnet's
  WebhookTestErrorResult, with FailureStatus ProtocolError, ConnectFailure or Timeout.
- No request signing (none is documented); the User-Agent is the emulator's own.
"""

from emulators.campaign_monitor.emulator import CampaignMonitorEmulator

__all__ = ["CampaignMonitorEmulator"]
