import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def org_tabs(gateway) -> list[str]:
    rows = gateway.tooling_query("SELECT Id FROM CustomTab")
    return sorted(gateway.tooling_get("CustomTab", row["Id"])["FullName"] for row in rows)


def test_show_tabs_adds_and_removes_the_tabs_shown_in_maintenance(
    console, live_server, sf_emulator, alice
):
    from salesforce.connection import connect_client_credentials

    info = sf_emulator.info()
    oauth = info["oauth"]
    gateway = connect_client_credentials(
        alice, info["login_url"], oauth["client_id"], oauth["client_secret"]
    ).gateway()
    page = console
    page.goto(f"{live_server.url}/maintenance/")
    page.get_by_role("button", name="Install components").click()
    section = page.get_by_role("region", name="Salesforce components")
    expect(section).to_contain_text("everything is installed.")
    tabs = section.get_by_role("list", name="Tabs")
    expect(tabs.get_by_role("listitem")).to_have_text(
        ["Campaign Monitor Lists tab: installed", "Email Tracking Statistics tab: installed"]
    )
    assert org_tabs(gateway) == ["CM_Email_Tracking__c", "CM_Subscriber_List__c"]

    page.goto(f"{live_server.url}/general/")
    page.get_by_label("Show tabs on the Campaign Monitor layout").uncheck()
    page.get_by_role("button", name="Save general options").click()
    expect(page.get_by_role("status").last).to_contain_text(
        "The Campaign Monitor tabs were removed from Salesforce"
    )
    page.goto(f"{live_server.url}/maintenance/")
    section = page.get_by_role("region", name="Salesforce components")
    expect(section).to_contain_text("Show tabs is off")
    expect(section.get_by_role("list", name="Tabs").get_by_role("listitem")).to_have_text(
        [
            "Campaign Monitor Lists tab: not installed",
            "Email Tracking Statistics tab: not installed",
        ]
    )
    expect(section).to_contain_text("everything is installed.")
    assert org_tabs(gateway) == []

    page.goto(f"{live_server.url}/general/")
    page.get_by_label("Show tabs on the Campaign Monitor layout").check()
    page.get_by_role("button", name="Save general options").click()
    expect(page.get_by_role("status").last).to_contain_text(
        "The Campaign Monitor tabs are in Salesforce"
    )
    page.goto(f"{live_server.url}/maintenance/")
    section = page.get_by_role("region", name="Salesforce components")
    expect(section.get_by_role("list", name="Tabs").get_by_role("listitem")).to_have_text(
        ["Campaign Monitor Lists tab: installed", "Email Tracking Statistics tab: installed"]
    )
    assert org_tabs(gateway) == ["CM_Email_Tracking__c", "CM_Subscriber_List__c"]
