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
        "A duplicate rule, a unique field or an existing campaign member blocked the write.",
        "Merge the duplicates in Salesforce or relax the duplicate rule, then retry.",
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
        "The email tracking object or cmsync's Campaign fields are missing in the org, so "
        "campaigns, statistics and tracking were skipped (opt-outs still synced).",
        "Press 'Install cmsync's schema' on the Sync tab, then Sync now.",
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
        "A record from Campaign Monitor could not be read (for example a malformed date).",
        "Check the subscriber in Campaign Monitor; the rest of the run went on.",
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
