"""Both emulators with cmsync connected, for the primary sync's tests."""

from datetime import UTC, datetime, timedelta

from campaign_monitor.connection import connect as connect_cm
from salesforce.connection import check_schema, connect_client_credentials
from sync import runner
from sync.models import SyncRun


class World:
    """Both emulators, cmsync connected to the agency's first client, and helpers."""

    def __init__(self, cm, sf, admin) -> None:
        self.cm, self.sf = cm, sf
        agency = next(a for a in cm.info()["accounts"] if a["type"] == "agency")
        self.client = agency["clients"][0]
        self.other_client = agency["clients"][1]
        self.list_a, self.list_b = (m["ListID"] for m in self.client["lists"])
        self.other_list = self.other_client["lists"][0]["ListID"]
        connect_cm(
            base_url=cm.base_url, api_key=agency["api_key"], client_ids=[self.client["ClientID"]]
        )
        info = sf.info()
        oauth = info["oauth"]
        self.sf_connection = connect_client_credentials(
            admin, info["login_url"], oauth["client_id"], oauth["client_secret"]
        )
        self.gateway = self.sf_connection.gateway()
        # cmsync's schema and the permission set that lets the sync user use it, as
        # install_salesforce_schema does.
        check_schema(self.sf_connection, install=True)

    def custom_field(self, full_name: str, metadata: dict) -> None:
        """A custom field of the org's own (not cmsync's), with read and edit for the sync
        user, as an admin creating it in Setup would grant: through a permission set."""
        self.gateway.tooling_create("CustomField", {"FullName": full_name, "Metadata": metadata})
        found = list(self.gateway.query("SELECT Id FROM PermissionSet WHERE Name = 'Org_Fields'"))
        if found:
            set_id = found[0]["Id"]
        else:
            (created,) = self.gateway.create(
                "PermissionSet", [{"Name": "Org_Fields", "Label": "Org fields"}]
            )
            set_id = created.id
            assignment = {"AssigneeId": self.sf_connection.sf_user_id, "PermissionSetId": set_id}
            self.gateway.create("PermissionSetAssignment", [assignment])
        grant = {
            "ParentId": set_id,
            "SobjectType": full_name.split(".")[0],
            "Field": full_name,
            "PermissionsRead": True,
            "PermissionsEdit": True,
        }
        (result,) = self.gateway.create("FieldPermissions", [grant])
        assert result.success, result.errors

    def subscriber(self, list_id: str, email: str, state: str, minutes_later: int = 0) -> None:
        """Set a state in Campaign Monitor, dated now or some minutes from now.

        (Moving the emulator's clock alone would make its systemdate disagree with the real
        clock; to test other times, move both with time_machine.)
        """
        date = self.local(minutes_later)
        self.cm.set_subscriber(list_id=list_id, email=email, state=state, date=date)

    def contact(self, email: str, opted_out: bool = False, sobject: str = "Contact") -> str:
        record = {"LastName": "Test", "Email": email, "HasOptedOutOfEmail": opted_out}
        if sobject == "Lead":
            record["Company"] = "Test Co"
        (result,) = self.gateway.create(sobject, [record])
        assert result.success, result.errors
        return result.id

    def opted_out(self, record_id: str, sobject: str = "Contact") -> bool:
        (row,) = self.gateway.query(
            f"SELECT HasOptedOutOfEmail FROM {sobject} WHERE Id = '{record_id}'"
        )
        return row["HasOptedOutOfEmail"]

    def sync(self, full: bool = False) -> SyncRun:
        run, created = runner.request_run(SyncRun.Trigger.MANUAL, full=full)
        assert created
        return runner.execute(run.pk)

    # -- campaigns and tracking -------------------------------------------------------------

    def local(self, minutes: float = 0) -> str:
        """The Campaign Monitor account's local time, minutes from now (negative: ago), with
        its UTC offset: exact on either side of a daylight saving change."""
        now = datetime.strptime(self.cm.utc_now(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        moment = (now + timedelta(minutes=minutes)).astimezone(self.cm.time_zone)
        return moment.isoformat(sep=" ", timespec="seconds")

    def campaign(self, name: str, emails: list[str], minutes: float = -60) -> str:
        """Send a campaign to ``emails`` (made active on list A first)."""
        for email in emails:
            self.subscriber(self.list_a, email, "Active", minutes_later=minutes - 5)
        return self.cm.send_campaign(
            client_id=self.client["ClientID"],
            name=name,
            list_ids=[self.list_a],
            sent_date=self.local(minutes),
        )

    def event(self, campaign: str, kind: str, email: str, minutes: float = -30, **extra):
        self.cm.add_event(campaign, kind, email, date=self.local(minutes), **extra)

    def tracking(self) -> list[dict]:
        return list(
            self.gateway.query(
                "SELECT CM_Email__c, CM_Type__c, CM_Event_Date__c, CM_Contact__c, CM_Lead__c, "
                "CM_Campaign__c, CM_URL__c FROM CM_Email_Tracking__c ORDER BY CM_Event_Date__c"
            )
        )

    def sf_campaign(self, cm_campaign_id: str) -> dict | None:
        rows = list(
            self.gateway.query(
                "SELECT Id, Name, CM_Recipients__c, CM_Total_Opens__c, CM_Unique_Opens__c, "
                "CM_Clicks__c, CM_Bounces__c, CM_Unsubscribes__c FROM Campaign "
                f"WHERE CM_Campaign_Id__c = '{cm_campaign_id}'"
            )
        )
        return rows[0] if rows else None

    def member(self, sf_campaign_id: str, contact_id: str) -> dict | None:
        rows = list(
            self.gateway.query(
                "SELECT Id, Status, HasResponded, CM_Last_Activity__c, CM_Last_Activity_Date__c, "
                f"CM_Status_Set__c FROM CampaignMember WHERE CampaignId = '{sf_campaign_id}' "
                f"AND ContactId = '{contact_id}'"
            )
        )
        return rows[0] if rows else None
