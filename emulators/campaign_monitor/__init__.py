"""A stateful local emulator of the Campaign Monitor API v3.3, for tests, benchmarks and demos.

with CampaignMonitorEmulator(seed="demo") as emu:
    requests.get(emu.base_url + "/clients.json", auth=(emu.info()["accounts"][0]["api_key"], "x"))

It fails where Campaign Monitor fails for the calls cmsync makes: auth codes, paging codes
(800-803), Invalid Date (5), the subscriber codes (1, 203-208, 210-215, 176), and these rules:

- Time zone: the account's zone is "(GMT+10:00) Canberra, Melbourne, Sydney", i.e.
  Australia/Sydney with daylight saving. Every date the API shows (subscribers, listsforemail,
  campaigns, reports, the suppression list, systemdate) and takes (`date`, `sentfromdate`,
  `senttodate`) is local to it. Dates are stored in UTC, so they order as instants. A local
  time the fall-back hour repeats is read as standard time (the later instant), as .NET's
  TimeZoneInfo.ConvertTimeToUtc does; a time the spring-forward hour skips is Code 5.
- UnsubscribeSetting per list (list details, POST /lists/{clientid}.json, PUT
  /lists/{listid}.json; AllClientLists by default). Unsubscribing from an AllClientLists
  list, by the API, by the control surface or by a campaign's unsubscribe link, unsubscribes
  the address (same Date) from every AllClientLists list of the client where it is Active or
  Unconfirmed and puts it on the client's suppression list; an OnlyThisList list touches
  nothing else and ignores the suppression list (Campaign Monitor's forum, "Impact of
  Unsubscribe Settings"). PUT /lists/{id}.json honours AddUnsubscribesToSuppList and
  ScrubActiveWithSuppList when a list is switched to AllClientLists.
- The suppression list: GET /clients/{id}/suppressionlist.json (paged like the sample,
  orderfield email or date), POST /clients/{id}/suppress.json (the addresses also leave the
  Active and Unconfirmed states of AllClientLists lists, as the forum says suppression does),
  PUT /clients/{id}/unsuppress.json?email= (Code 176 when not on it; the address stays
  unsubscribed wherever it is). An AllClientLists list refuses a suppressed address: a new
  address's add without Resubscribe is Code 204, an import's FailureDetails entry is Code
  204 "In Suppression List" whatever Resubscribe says; an add with Resubscribe gets in and
  the address stays suppressed (the forum: an "organic" resubscribe is allowed).

Controls, in process (CampaignMonitorEmulator methods) and over HTTP (/_emulator/, see
control.py): info, now/utc_now and the clock (advance_clock, set_clock: local text, or text
with an offset to name one instant of a repeated hour), set_subscriber, send_campaign,
add_event, suppress, set_unsubscribe_setting (POST /_emulator/lists {ListID,
UnsubscribeSetting}), faults, expire_tokens, request counts and bodies.

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

Dates, lists and the suppression list
- One time zone for everything: every client reports the account's TimeZone and all dates
  use it. Real clients each have a TimeZone of their own (set when created); which one a
  client's report dates use is not documented.
- How the real API reads a local time the fall-back hour repeats, or one the spring-forward
  hour skips, is not documented; the emulator follows .NET's documented conversion (above).
- Error codes without a documented source: 176's message, 250/265 for a bad list title or
  UnsubscribeSetting. An address already on the list in an inactive state answers its state's
  code (205-208) before the suppression list's 204; the real order is not documented.
- SuppressionReason is "Unsubscribed" for unsubscribes (as in the sample) and "Manually
  added" for POST suppress.json, whose real wording is not documented. Hard bounces and spam
  complaints do not put an address on the suppression list here.
- The seeded "demo" data writes states directly: its Unsubscribed people are not on the
  suppression list, and may still be Active on the client's other list.
- Adds are applied at once (the real API queues them); segments, journeys, templates,
  transactional email and billing are not emulated beyond what cmsync reads. Social
  counters (Mentions, Forwards, Likes) are 0.
- Report rows have minute precision (seconds :00), like the samples; the suppression list
  keeps seconds.

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
