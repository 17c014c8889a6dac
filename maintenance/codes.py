"""The documented list of maintenance message codes: what each means and how to fix it.

Codes are stable: tests, alerts and the API refer to them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    title: str
    cause: str
    fix: str
    retryable: bool = True


CODES = {
    "SF_RESTRICTED_PICKLIST": Code(
        "Value not allowed by a restricted picklist",
        "Salesforce refused a value that is not in a restricted picklist field's list "
        "(for example Country or a Campaign Member status).",
        "Add the value to the picklist in Salesforce Setup, or change the mapping so the "
        "value is one Salesforce accepts, then retry.",
    ),
    "SF_VALIDATION_RULE": Code(
        "Blocked by a validation rule",
        "A validation rule in your org refused the change.",
        "Ask your Salesforce admin whether the rule should let cmsync's change through, or "
        "correct the record, then retry.",
    ),
    "SF_DUPLICATE": Code(
        "Duplicate record or value",
        "A duplicate rule whose action is Block (the message names it), a unique field or an "
        "existing campaign member refused the write. cmsync saves past duplicate rules whose "
        "action is Allow with an alert, as a person confirming the alert would.",
        "Merge the duplicates in Salesforce, or set the named duplicate rule's action on edit "
        "to Allow (Alert) in Setup, then retry.",
    ),
    "SF_INVALID_DATA": Code(
        "Salesforce refused the record's data",
        "A required field was missing, a value too long, or an email address invalid.",
        "Correct the record in Salesforce or Campaign Monitor, then retry.",
    ),
    "SF_RECORD_LOCKED": Code(
        "Record locked",
        "Another process held a lock on the record (UNABLE_TO_LOCK_ROW) through every retry.",
        "Retry; if it keeps happening, look for automation that updates the same records.",
    ),
    "SF_MISSING_STATUS": Code(
        "Campaign member status missing",
        "The mapped member status does not exist on the Salesforce campaign and "
        "'auto-create missing statuses' is off.",
        "Turn on 'auto-create missing statuses' on the Campaigns tab or add the status to the "
        "campaign in Salesforce, then retry.",
    ),
    "SF_LIMIT_EXHAUSTED": Code(
        "Salesforce daily API limit reached",
        "The org's daily API requests ran out (REQUEST_LIMIT_EXCEEDED); the run stopped writing.",
        "Nothing to do: the next run after the limit resets picks up where this one stopped. "
        "Lower the sync frequency if it happens often.",
        retryable=False,
    ),
    "SF_SCHEMA_MISSING": Code(
        "cmsync's Salesforce schema is not installed",
        "Some of cmsync's objects or fields are missing in the org. Missing tracking or "
        "Campaign parts: campaigns, statistics and tracking were skipped. Missing list or "
        "list membership parts: subscriber lists and memberships wait (opt-outs still synced).",
        "Press 'Install cmsync's schema' on the Sync tab, then Sync now.",
        retryable=False,
    ),
    "SF_NO_ACCESS": Code(
        "The sync user cannot use cmsync's Salesforce objects",
        "cmsync's objects and fields are installed, but the sync user's Salesforce user may "
        "not read or write some of them (Salesforce hides new objects and fields until a "
        "permission set grants them). Missing tracking or Campaign access: campaigns, "
        "statistics and tracking were skipped. Missing list access: subscriber lists and "
        "memberships wait (opt-outs still synced).",
        "Press 'Install components' on the Maintenance tab: it grants cmsync's permission set "
        "(cmsync_Integration) and assigns it to the sync user. Then Sync now.",
        retryable=False,
    ),
    "SF_OTHER": Code(
        "Salesforce refused the record",
        "Salesforce returned an error cmsync has no specific advice for; its message is shown.",
        "Read Salesforce's message, correct the record, then retry.",
    ),
    "CM_RATE_LIMITED": Code(
        "Campaign Monitor rate limit",
        "Campaign Monitor kept answering 429 Too Many Requests through every retry.",
        "Nothing to do: the next run continues from the last written page.",
        retryable=False,
    ),
    "CM_BAD_RECORD": Code(
        "Unreadable record from Campaign Monitor",
        "A record from Campaign Monitor (a subscriber, or an address of a client's "
        "suppression list) could not be read (for example a malformed date).",
        "Check the subscriber or the suppression list in Campaign Monitor; the rest of the "
        "run went on.",
        retryable=False,
    ),
    "CM_REACTION_FAILED": Code(
        "Campaign Monitor refused a reaction to a Salesforce change",
        "Unsubscribing or deleting a subscriber after a Salesforce change was refused by "
        "Campaign Monitor (for example an invalid email address); its message is shown.",
        "Correct the address in Salesforce, or unsubscribe or delete the subscriber in "
        "Campaign Monitor by hand. The change is not tried again.",
        retryable=False,
    ),
    "CM_WEBHOOK_FAILED": Code(
        "cmsync's Campaign Monitor webhook could not be kept in place",
        "Registering, activating or removing cmsync's webhook on a list failed: Campaign "
        "Monitor refused it (its message is shown) or could not be reached. Until it is in "
        "place, that list's changes reach Salesforce at the next primary sync instead of "
        "within seconds.",
        "Nothing to do if Campaign Monitor was only briefly unreachable: every primary sync "
        "tries again. If it refused the URL, check that CMSYNC_URL is the console's public "
        "HTTPS address; the list's webhook state is on the Sync tab.",
        retryable=False,
    ),
    "CM_WEBHOOK_BAD_EVENT": Code(
        "Unreadable Campaign Monitor webhook event",
        "An event posted by a Campaign Monitor list webhook could not be read (for example "
        "an unknown subscriber state or date; the message says what was wrong with it); the "
        "batch's other events were applied.",
        "Nothing to do: the primary sync reads the subscriber's state from Campaign Monitor "
        "at its next run. Check the subscriber in Campaign Monitor if it recurs.",
        retryable=False,
    ),
    "CM_FIELD_UPDATE_FAILED": Code(
        "Campaign Monitor refused custom field values",
        "A Salesforce → Campaign Monitor field mapping sent a subscriber's custom field values "
        "after a Salesforce change, and Campaign Monitor refused them; its message is shown.",
        "Check the subscriber and the list's custom fields in Campaign Monitor. The values are "
        "sent again at the record's next change in Salesforce.",
        retryable=False,
    ),
    "CM_FIELD_VALUE_INVALID": Code(
        "Custom field value does not fit the Salesforce field",
        "A Campaign Monitor → Salesforce field mapping read a value that cannot be written to "
        "the mapped Salesforce field (for example text in a number field, or an impossible "
        "date). The record's other fields were written.",
        "Correct the value in Campaign Monitor, or map the custom field to a Salesforce field "
        "of a fitting type on the list's Custom fields page.",
        retryable=False,
    ),
    "FIELD_MAPPING_BROKEN": Code(
        "Custom field mapping points at a missing field",
        "A custom field mapping names a Salesforce field that no longer exists or that the "
        "sync user cannot write, so the mapping was skipped for that object.",
        "Open the list's Custom fields page and choose another field, or restore the field "
        "(and the sync user's access to it) in Salesforce.",
        retryable=False,
    ),
    "SF_DELETE_KEPT": Code(
        "Deleted in Salesforce, but the email lives on",
        "A Contact or Lead was deleted, but another live Contact or Lead has the same email, "
        "so its subscriber was not set to Deleted.",
        "Nothing to do if the other record is the same person. Otherwise delete the "
        "subscriber in Campaign Monitor by hand.",
        retryable=False,
    ),
    "SF_CHANGE_POLL_FAILED": Code(
        "Salesforce changes could not be read",
        "The poll for Contact, Lead and Account changes failed; nothing was missed, the next "
        "poll reads from the same point.",
        "Check the Salesforce connection on the Sync tab. If the org has Outbound Messages "
        "set up, changes keep arriving that way.",
        retryable=False,
    ),
    "RULE_NOT_ADDED": Code(
        "A subscription rule did not add someone",
        "A Contact or Lead matched an 'add' subscription rule but was not added to the list: "
        "Email Opt Out is ticked and 'Prevent contacts or leads being added to lists when "
        "opted out' is on, or the record has no valid email address.",
        "Nothing to do if that is intended. Otherwise untick Email Opt Out or correct the "
        "email address in Salesforce; the rule adds the record at its next change.",
        retryable=False,
    ),
    "CM_RULE_FAILED": Code(
        "Campaign Monitor refused a subscription rule's change",
        "Adding a subscriber to a list, or setting one to Deleted, for a subscription rule "
        "was refused by Campaign Monitor; its message is shown. Code 204 (In Suppression List) "
        "means the address is on the client's suppression list, which every list "
        "set to unsubscribe people from all the client's lists refuses; cmsync also counts "
        "such an address as unsubscribed everywhere and ticks Email Opt Out, unless it is "
        "still active or unconfirmed on a connected list.",
        "Correct the record in Salesforce (for example its email address) or the list in "
        "Campaign Monitor; for a suppressed address that asked to be emailed again, remove "
        "it from the client's suppression list in Campaign Monitor first. The rule acts again "
        "at the record's next change, or run it retrospectively from the list's rules page.",
        retryable=False,
    ),
    "RULE_INVALID": Code(
        "A subscription rule cannot be evaluated",
        "A condition of the rule names a Salesforce field that no longer exists or no longer "
        "takes its value (for example a removed field or picklist value), so the rule was "
        "skipped.",
        "Open the list's subscription rules and correct or delete the condition.",
        retryable=False,
    ),
    "BEAT_STOPPED": Code(
        "Celery beat has stopped",
        "Celery beat sends the every-minute tasks (scheduled syncs, the change poll, scheduled "
        "imports) and has not done so for 3 minutes: nothing scheduled starts.",
        "Restart the beat process (docker compose: the beat service) and read its log. Only "
        "one beat may run per installation.",
        retryable=False,
    ),
    "NO_WORKER": Code(
        "No Celery worker is running",
        "No worker has shown it is alive for 2 minutes: runs, imports and reactions stay "
        "queued until one takes them.",
        "Start a worker (docker compose: the worker service) and read its log; check that it "
        "reaches the broker (Redis) and the database.",
        retryable=False,
    ),
}

# Salesforce per-record statusCodes → our codes.
SALESFORCE_CODES = {
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "SF_RESTRICTED_PICKLIST",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "SF_VALIDATION_RULE",
    "DUPLICATE_VALUE": "SF_DUPLICATE",
    "DUPLICATES_DETECTED": "SF_DUPLICATE",
    "REQUIRED_FIELD_MISSING": "SF_INVALID_DATA",
    "STRING_TOO_LONG": "SF_INVALID_DATA",
    "INVALID_EMAIL_ADDRESS": "SF_INVALID_DATA",
    "UNABLE_TO_LOCK_ROW": "SF_RECORD_LOCKED",
    "REQUEST_LIMIT_EXCEEDED": "SF_LIMIT_EXHAUSTED",
}


def for_salesforce(status_code: str) -> str:
    return SALESFORCE_CODES.get(status_code, "SF_OTHER")
