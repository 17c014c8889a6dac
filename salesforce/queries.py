"""SOQL statements that other apps hold on to before they run them.

The import wizard keeps the statement that reads a job's people (and the one that counts
them) in its ``Source``, shows the count first and reads later; both are written here so
SOQL stays inside ``salesforce/``. Run them with ``SalesforceGateway.query`` and ``count``.
"""

from collections.abc import Iterable

from simple_salesforce.format import format_soql


def people(sobject: str, columns: Iterable[str], where: str) -> tuple[str, str]:
    """(read, count) for the Contacts or Leads a checked condition matches (all when it is
    empty), most recently modified first, converted Leads left out."""
    clauses = ["IsConverted = false"] if sobject == "Lead" else []
    if where:
        clauses.append(f"({where})")
    condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return (
        f"SELECT {', '.join(columns)} FROM {sobject}{condition} ORDER BY LastModifiedDate DESC, Id",
        f"SELECT COUNT() FROM {sobject}{condition}",
    )


def campaign_members(
    campaign_id: str, statuses: Iterable[str], columns: Iterable[str]
) -> tuple[str, str]:
    """(read, count) for a campaign's members, of these member statuses when any are given."""
    condition = "CampaignId = {campaign}"
    values = {"campaign": campaign_id, "statuses": list(statuses)}
    if values["statuses"]:
        condition += " AND Status IN {statuses}"
    return (
        format_soql(
            f"SELECT {', '.join(columns)} FROM CampaignMember WHERE {condition} ORDER BY Id",
            **values,
        ),
        format_soql(f"SELECT COUNT() FROM CampaignMember WHERE {condition}", **values),
    )
