import pytest
from playwright.sync_api import expect

from salesforce.models import SalesforceSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_connect_salesforce_test_set_sync_user_and_install_schema(
    console, sf_emulator, django_user_model
):
    page = console
    info = sf_emulator.info()
    settings = SalesforceSettings.get_solo()
    settings.sync_user = django_user_model.objects.create_user("dave")  # not connected
    settings.save()
    page.reload()

    section = page.get_by_role("region", name="Salesforce", exact=True)
    expect(section).to_contain_text("dave has no Salesforce connection")
    section.get_by_role("link", name="Connected app settings").click()
    page.get_by_label("Login URL").fill(info["login_url"])
    page.get_by_label("Consumer key").fill(info["oauth"]["client_id"])
    page.get_by_label("Consumer secret").fill(info["oauth"]["client_secret"])
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Salesforce connected app saved.")

    page.get_by_role("link", name="Connect Salesforce").click()
    expect(page.get_by_text("Allow cmsync to access")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    admin = info["users"][0]["Username"]
    expect(page.get_by_role("status")).to_have_text(f"Connected to Salesforce as {admin}.")

    section = page.get_by_role("region", name="Salesforce", exact=True)
    section.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("Connection works")

    section = page.get_by_role("region", name="Salesforce", exact=True)
    section.get_by_role("button", name="Set to current user").click()
    expect(page.get_by_role("status")).to_contain_text(f"The sync now runs as you ({admin})")
    expect(page.get_by_role("region", name="Salesforce", exact=True)).not_to_contain_text(
        "has no Salesforce"
    )
    assert SalesforceSettings.get_solo().sync_user.username == "alice"

    section = page.get_by_role("region", name="Salesforce", exact=True)
    section.get_by_role("button", name="Install cmsync's schema").click()
    expect(page.get_by_role("status")).to_have_text("cmsync's schema is installed in Salesforce.")
    expect(page.get_by_role("region", name="Salesforce", exact=True)).to_contain_text(
        "Installed: the email tracking object"
    )
