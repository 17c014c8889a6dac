"""A stateful local emulator of the Salesforce REST API, for tests, benchmarks and demos.

It fails where Salesforce fails: objects and fields exist only if Salesforce has them (or
they were installed through the Tooling API), SOQL is parsed and type-checked, and writes
go through Salesforce's own rules (required fields, e-mail format, restricted picklists,
read-only fields, references, campaign member statuses, unique fields, validation rules,
duplicate rules, converted leads). Datetimes are whole seconds ("...:30.000+0000"), as
Salesforce keeps them, so records written within one second share their SystemModstamp.

Object and field-level security is on in every seed (security.py): a custom object or field
installed through the Tooling API is hidden from every user, the System Administrator's
fields included, until a PermissionSet grants it (ObjectPermissions, FieldPermissions,
PermissionSetAssignment, all REST records). Users: admin@ (System Administrator profile:
View All Data and Modify All Data, so every object but no new field), integration@ and
marketing@ (Standard User: no custom object). A hidden object answers like an unknown one
(SOQL INVALID_TYPE, REST 404, left out of /sobjects); a hidden field like an unknown one
(SOQL INVALID_FIELD "No such column", left out of describe and records, INVALID_FIELD on
writes); a readable but not editable field refuses writes per record with
INVALID_FIELD_FOR_INSERT_UPDATE and describes as createable/updateable false. A custom tab
is hidden from every user until one of the user's sets has a PermissionSetTabSetting for it
(DefaultOn or DefaultOff) and the user may read its object; GET /services/data/vXX.X/tabs
lists the tabs a user sees.

    with SalesforceEmulator(seed="demo") as emu:
        sf = Salesforce(instance_url=emu.root_url, session_id=emu.issue_token(),
                        session=<a requests.Session rewriting https://127.0.0.1 to http://>,
                        version="62.0")

Modules: server (HTTP), org (one org: dispatch, limits, faults), rest (the REST handlers),
soql + query (parser, compiler to SQL, pages), dml + campaigns + duplicates + leads (the
write rules), security (profiles, permission sets, who sees what), sobject_collections,
bulk (Bulk API 2.0 ingest jobs, written through the collections' per-record path),
bulk_query (Bulk API 2.0 query jobs, run through the query engine),
tooling (custom objects and fields), layouts (page layouts and custom buttons), tabs
(custom object tabs, and the REST /tabs a user sees), outbound (Outbound Messages),
oauth, control (/_emulator/), seed, store (SQLite), schema (objects, fields, describe).

Controls, in process (SalesforceEmulator methods) and over HTTP (control.py, /_emulator/):
info (its users: admin, integration and marketing), seed_people, insert (POST records; the
control surface is no user: no object or field security, no duplicate rule), issue_token
(POST token), faults, validation rules, duplicate rules (add_duplicate_rule(object,
"alert" | "block"), duplicate_rules, clear_duplicate_rules; GET|POST|DELETE
/_emulator/duplicate_rules), convert_lead (POST /_emulator/leads/convert {"lead_id",
"contact_id"?, "account_id"?}), request counts, limits, expire_sessions, advance_clock,
set_unordered_rows (POST query_order: rows no ORDER BY decides come back in insertion order,
or reversed, to show code that relies on an order Salesforce does not promise), and
Outbound Messages, and Bulk API 2.0 (bulk.py): GET /_emulator/bulk (jobs by state, jobs and
records processed, records failed, batches), POST /_emulator/bulk {"paused"?, "chunk_delay"?},
POST /_emulator/bulk/wait {"timeout"?} (wait_bulk, pause_bulk, bulk_status in process), and
the fault kinds "bulk_unable_to_lock_row" (N rows), "bulk_job_failed" (N ingest jobs) and
"bulk_query_job_failed" (N query jobs):

    action = emu.add_outbound_message("http://127.0.0.1:8000/sf/outbound", "Contact",
                                      ["Email", "HasOptedOutOfEmail"], retry_delays=[0.1])
    ...create or update Contacts through any API...
    emu.wait_outbound(10)         # True once nothing is queued, retrying or in flight
    emu.outbound_deliveries()     # [{time, url, status, ack, attempt, notification_ids, ...}]
    emu.redeliver_last()          # the last message again, same notification ids
    emu.remove_outbound_messages(); emu.clear_outbound_deliveries()

  POST|GET|DELETE /_emulator/outbound_messages  {"endpoint_url", "sobject", "fields", "name"?,
  "retry_delays"?}; POST /_emulator/outbound_messages/redeliver_last; GET|DELETE
  /_emulator/outbound_deliveries; POST /_emulator/outbound_deliveries/wait {"timeout"?}.

  After every DML call that creates or updates records of the object (REST create, update
  and upsert, sObject Collections, the control insert; not deletes, not seed_people), one
  SOAP message per 100 records goes from a background thread to the endpoint, which must be
  on 127.0.0.1 or localhost, in Salesforce's format (one Notification per record, Id first,
  nil fields as xsi:nil, datetimes as ...000Z). Anything but HTTP 200 with <Ack>true</Ack>
  is retried after each of retry_delays (0.5, 1, 2 s by default), with the same notification
  ids; each attempt is recorded.

The seed option duplicate_rules ("alert", "block" or "none"; SalesforceEmulator(...,
duplicate_rules=...)) turns on the standard Contact and Lead duplicate rules of a new org;
by default "demo" has alert rules and other seeds none. seed_people makes duplicates those
rules match (same email and names) and some Leads converted long ago into their Contacts.

Known differences from Salesforce, on purpose or for want of evidence:
- Single-record ENTITY_IS_DELETED is a 404; inside sObject Collections the body errors that
  stop deserialization (JSON_PARSER_ERROR, an unknown field) fail the whole call with 400.
- Case-insensitive matching (=, IN, LIKE, unique and external ids) folds ASCII only.
- Restricted picklists and CampaignMember.Status match values exactly (case-sensitive).
- Contact.MailingCountry and Lead.Country are restricted picklists of a few country names
  (schema.COUNTRIES) that refuse other values with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST.
  They stand in for State and Country picklists, where the picklists are the *CountryCode
  fields (not emulated) and an unknown name in the text field is refused with another
  error. Multi-select picklists (Tooling type MultiselectPicklist) keep their ";"-joined
  values in the order written.
- Object and field-level security, simplified: no sharing (record access), no field
  security on standard objects and fields (they stay visible and writable whatever the
  permission sets say; their ObjectPermissions/FieldPermissions rows are kept but change
  nothing), no master-detail fields, no permission set groups, muting sets, licenses,
  session activation or expiring assignments. Two profiles only (System Administrator,
  Standard User), read-only, each with its owned permission set; profile and user
  permissions other than View All Data and Modify All Data are not modelled, and View
  All Data / Modify All Data cannot be set on custom sets. Setup objects (PermissionSet,
  ObjectPermissions, FieldPermissions, PermissionSetAssignment, PermissionSetTabSetting)
  are open to every user (Salesforce wants View Setup and Configuration, Manage Profiles
  and Permission Sets, Assign Permission Sets), and the Tooling API to every user too.
  Access is read afresh on each request (Salesforce may cache it for a session). An object
  the user may read but not create, edit or delete refuses the write with
  INVALID_TYPE_FOR_OPERATION "entity type cannot be inserted/updated/deleted" (for want of
  evidence of Salesforce's exact answer). Emulator wording, for want of the exact messages:
  a dependency ("Permission Create depends on permission(s): Read",
  FIELD_INTEGRITY_EXCEPTION), Edit on a read-only field, assigning a profile-owned set
  (FIELD_INTEGRITY_EXCEPTION), deleting a profile-owned set
  (INSUFFICIENT_ACCESS_OR_READONLY) or an assigned set (DELETE_FAILED, the emulator's
  restrict-delete message). Deleted permission rows and assignments go to the recycle bin
  like other records (queryAll shows them); Salesforce deletes setup records outright. A
  PermissionSet's Name follows the developer-name rules and is unique case-insensitively
  (DUPLICATE_VALUE).
- No sharing, triggers or flows; validation rules are "field equals value" rules
  installed through the control surface.
- Duplicate rules (duplicates.py): at most one per object, on Contact and Lead only, standing
  for the standard rules and named after them ("Standard_Contact_Duplicate_Rule" compares
  Contacts with Contacts; "Standard_Lead_Duplicate_Rule" compares Leads with unconverted
  Leads and with Contacts). Matching is exact, not fuzzy: Email, FirstName and LastName
  equal after trimming, ignoring case, none blank (the standard matching rules also match
  fuzzy names, and company or phone combinations). A rule runs on every create and edit
  (the standard rules' "Action On Edit"); alert means Allow with Alert and Report (refused
  with DUPLICATES_DETECTED unless Sforce-Duplicate-Rule-Header allowSave=true, API 52.0 and
  later), block means Block; no conditions, no record-level security options, no duplicate
  record sets or reports. The error's message is the rule's alert text, "Use one of these
  records?"; the duplicate result comes under "duplicateResut" (Salesforce's REST spelling)
  in both single-record errors and collections' per-record errors, its match records always
  with matchConfidence 100 and a v62.0 url, never with record details
  (includeRecordDetails is ignored). The control insert and lead conversion skip the rules.
- Lead conversion (leads.py) is a control-surface action, not the convertLead call: no
  Opportunity, no converted-status choice ("Closed - Converted"), the new Contact takes
  FirstName, LastName, Title, Email, Phone and HasOptedOutOfEmail only, and the conversion
  sends the Lead's Outbound Message (as with "Require Validation for Converted Leads" on).
  Every update of a converted Lead is refused with CANNOT_UPDATE_CONVERTED_LEAD (Salesforce
  lets users with "View and Edit Converted Leads" edit some fields).
- Datetime values written through the API lose their milliseconds, as stamps do; SOQL
  datetime literals keep theirs when compared.
- Outbound Messages have
  no criteria (every create and update is sent), SessionId is always nil, their Enterprise
  and Partner URLs use the emulator's http instance URL, retries stop after retry_delays
  (Salesforce keeps trying for 24 hours) and they are not kept in a data_dir.
- Id key prefixes of the setup objects (Profile 00e, PermissionSet 0PS, ObjectPermissions
  110, FieldPermissions 01k, PermissionSetAssignment 0Pa, PermissionSetTabSetting 01P,
  CustomTab 01r) come from published key-prefix lists, not from a real org; 01P was not
  confirmed anywhere.
- Row order: Salesforce's SOQL reference ("ORDER BY": "There's no guarantee of the order of
  results unless you use an ORDER BY clause", and ties within one "can vary") promises no
  order; the emulator answers such rows in one of two fixed orders, insertion (default) or
  reversed (set_unordered_rows), never a different order from one query to the next.
- SOQL: no GROUP BY, aggregates other than COUNT, subqueries, TYPEOF, INCLUDES, FOR UPDATE,
  fiscal or week-count date literals (MALFORMED_QUERY "Not supported by the Salesforce
  emulator: ..."); date literals use UTC, weeks start on Sunday.
- The daily API allocation is a plain counter that stops at its maximum (no overage, no
  rolling window); query locators are kept for the 32 most recent queries.
- Tooling API: CustomObject, CustomField, Layout, WebLink and CustomTab only. Layouts cannot
  be created or deleted, only read and updated (PATCH {"Metadata"}); WebLinks can be created,
  updated and deleted; CustomObject/CustomField/CustomTab cannot be updated. FullName and
  Metadata may only be selected by a query returning one row, for every Tooling object.
- Page layouts: one per object ("Contact Layout", "Lead Layout", "Campaign Layout", and
  "<Label> Layout" for a custom object); no record types, profile assignments, compact or
  Lightning pages. Metadata comes back as last written (Salesforce fills in every Layout key,
  many as null). An update checks fields (existing, once each), behaviors, section styles,
  related lists (the object's standard ones from a fixed list, or "<Child>.<Lookup>" with
  its custom columns), custom buttons and links; it does not require the object's required
  fields to be on the layout. Error messages are the emulator's wording.
- WebLinks: merge fields in a button's URL are not checked; deleting a custom object also
  deletes its WebLinks and layouts, with no recycle bin.
- CustomTab: custom object tabs only (Type "customObject", the emulator's spelling of the
  restricted picklist; web, Visualforce, Lightning page and component tabs are refused as not
  supported), one per custom object, none for standard objects; deleting the object deletes
  its tab (Salesforce Help, deleting a custom object "Deletes the custom tab and list views
  for the object"). A tab's DeveloperName and MasterLabel are null, following a report that a real
  org's custom object tabs carry their object only in FullName (SalesforceLabs/OrgCheck#564).
  The motif is checked for the "Custom<1-100>: <name>" form, not against the list of icon
  names. Refusing a label on a custom object tab, and "There is already a tab for X"
  (DUPLICATE_DEVELOPER_NAME), are the emulator's reading and wording; "In field: fullName -
  no CustomObject named X found" is Salesforce's deploy message. No CustomApplication: a tab
  is not added to any app's navigation.
- Tab visibility: PermissionSetTabSetting is a REST object only (not in the Tooling API, no
  MutingPermissionSet parent) and carries the usual audit fields. Name, ParentId and
  Visibility are required (the reference marks none required; a row without a tab or a
  visibility means nothing). Name may be a custom object tab (matched ignoring case, kept
  in the object's spelling) or "standard-" and one of Account, Contact, Lead, Campaign
  (Salesforce has many more standard tabs); anything else is refused with
  FIELD_INTEGRITY_EXCEPTION "You can't edit tab settings for X, as it's not a valid tab."
  (Salesforce's deploy message; the API's exact answer is not documented). A second row for
  the same set and tab is DUPLICATE_VALUE "Permission set already has a tab setting defined
  for tab. Update the existing tab setting." Deleting a tab or its object deletes its
  settings outright; deleting a permission set sends them to the recycle bin with it.
  GET /tabs lists the four standard tabs for every user, then each custom object tab with a
  setting in one of the user's sets on an object the user may read (DefaultOff counts: the
  resource lists tabs "available" to the user, hidden by the user or not); its entries have
  no colors or icons (empty lists and URLs) and a Classic "/<key prefix>/o" url; there is
  no describeTabs (apps) and no user tab customisation.
- Bulk API 2.0 (bulk.py): ingest jobs (query jobs: below; no multipart create, no
  relationship columns, no assignment rules); one job processed at a time, in the order
  jobs were closed, 200 rows per transaction; hardDelete deletes to the recycle bin;
  jobs are kept until deleted (Salesforce removes them 7 days after they end); results of a
  job being processed show the rows done so far; GET jobs/ingest answers every job in one
  page. Wordings are the emulator's, for want of Salesforce's, for: a wrong state
  (INVALIDJOBSTATE), a bad job definition (INVALIDJOB "InvalidJob : ..."), an oversized
  upload (400 ClientInputError "Failed to read request. Exceeded max size limit of ...",
  after Bulk API 1.0's), a malformed CSV or wrong column count ("InvalidBatch : ..."), a
  row's wrong type (INVALID_TYPE_ON_FIELD_IN_RECORD "<label>: value not of required type:
  <value>"), an injected job failure, and sf__Error's fields joined by ",". Bulk rows get
  no Sforce-Duplicate-Rule-Header (documented for REST writes only), so alert rules refuse
  them. DailyBulkApiBatches counts one batch per started 10,000 rows of a job, never
  refuses (Salesforce's shared 15,000 per 24 h); DailyBulkApiRequests shows the same count.
- Bulk API 2.0 query jobs (bulk_query.py): run through the REST query's engine and field
  security as the job's user, checked at create and again when the job runs; one job at a
  time per org, in the order created, on a thread of their own beside the ingest jobs; rows
  chosen when the job starts; no PK chunking; results kept until the job is deleted (not 7
  days); without maxRecords a page holds at most 100,000 rows (Salesforce picks a size);
  the locator is the next row's offset in base64. DailyBulkV2QueryJobs (10,000) and
  DailyBulkV2QueryFileStorageMB (1 TB) count in /limits and never reset; past the job
  limit the create is refused with 400 LIMIT_EXCEEDED "Max bulk v2 query jobs (10000) per
  24 hrs has been reached (N)" (the wording reported by integrations; status assumed).
  Wordings are the emulator's for: a wrong state (INVALIDJOBSTATE, also for results of a job
  not JobComplete), a bad definition (INVALIDJOB), a query Bulk API refuses (API_ERROR for
  COUNT() or OFFSET), a bad maxRecords or locator (API_ERROR), a job failed when it ran
  (errorMessage "<code> : <SOQL message>") and the injected failure. The fault kind
  "bulk_query_job_failed" (N jobs) fails query jobs as a whole; pause_bulk and chunk_delay
  hold and slow them as they do ingest jobs.
- Not emulated: SOAP login, Bulk API 1.0, /composite,
  /composite/batch and /tree, SOSL, Apex REST, the Metadata API; recycle-bin purge and
  undelete.
"""

from emulators.salesforce.emulator import SalesforceEmulator

__all__ = ["SalesforceEmulator"]
