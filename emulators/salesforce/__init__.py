"""A stateful local emulator of the Salesforce REST API, for tests, benchmarks and demos.

It fails where Salesforce fails: objects and fields exist only if Salesforce has them (or
they were installed through the Tooling API), SOQL is parsed and type-checked, and writes
go through Salesforce's own rules (required fields, e-mail format, restricted picklists,
read-only fields, references, campaign member statuses, unique fields, validation rules).

    with SalesforceEmulator(seed="demo") as emu:
        sf = Salesforce(instance_url=emu.root_url, session_id=emu.issue_token(),
                        session=<a requests.Session rewriting https://127.0.0.1 to http://>,
                        version="62.0")

Modules: server (HTTP), org (one org: dispatch, limits, faults), rest (the REST handlers),
soql + query (parser, compiler to SQL, pages), dml + campaigns (the write rules),
sobject_collections, tooling (custom objects and fields), layouts (page layouts and custom
buttons), oauth, control (/_emulator/), seed, store (SQLite), schema (objects, fields,
describe).

Known differences from Salesforce, on purpose or for want of evidence:
- Single-record ENTITY_IS_DELETED is a 404; inside sObject Collections the body errors that
  stop deserialization (JSON_PARSER_ERROR, an unknown field) fail the whole call with 400.
- Case-insensitive matching (=, IN, LIKE, unique and external ids) folds ASCII only.
- Restricted picklists and CampaignMember.Status match values exactly (case-sensitive).
- No sharing, field-level security, duplicate rules, triggers or flows; validation rules are
  "field equals value" rules installed through the control surface.
- SOQL: no GROUP BY, aggregates other than COUNT, subqueries, TYPEOF, INCLUDES, FOR UPDATE,
  fiscal or week-count date literals (MALFORMED_QUERY "Not supported by the Salesforce
  emulator: ..."); date literals use UTC, weeks start on Sunday.
- The daily API allocation is a plain counter that stops at its maximum (no overage, no
  rolling window); query locators are kept for the 32 most recent queries.
- Tooling API: CustomObject, CustomField, Layout and WebLink only. Layouts cannot be created
  or deleted, only read and updated (PATCH {"Metadata"}); WebLinks can be created, updated
  and deleted; CustomObject/CustomField cannot be updated. FullName and Metadata may only be
  selected by a query returning one row, for every Tooling object.
- Page layouts: one per object ("Contact Layout", "Lead Layout", "Campaign Layout", and
  "<Label> Layout" for a custom object); no record types, profile assignments, compact or
  Lightning pages. Metadata comes back as last written (Salesforce fills in every Layout key,
  many as null). An update checks fields (existing, once each), behaviors, section styles,
  related lists (the object's standard ones from a fixed list, or "<Child>.<Lookup>" with
  its custom columns), custom buttons and links; it does not require the object's required
  fields to be on the layout. Error messages are the emulator's wording.
- WebLinks: merge fields in a button's URL are not checked; deleting a custom object also
  deletes its WebLinks and layouts, with no recycle bin.
- Not emulated: SOAP login, Bulk APIs, /composite, /composite/batch and /tree, SOSL, Apex
  REST, the Metadata API; recycle-bin purge and undelete.
"""

from emulators.salesforce.emulator import SalesforceEmulator

__all__ = ["SalesforceEmulator"]
