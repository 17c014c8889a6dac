from django.contrib import admin
from solo.admin import SingletonModelAdmin

from .models import CampaignSettings, GeneralSettings, MemberStatusMapping, SyncSettings

admin.site.register(SyncSettings, SingletonModelAdmin)
admin.site.register(GeneralSettings, SingletonModelAdmin)
admin.site.register(CampaignSettings, SingletonModelAdmin)


@admin.register(MemberStatusMapping)
class MemberStatusMappingAdmin(admin.ModelAdmin):
    list_display = ["activity", "label", "responded"]
