"""Log Analytics, workspace-based Application Insights and the alerts' action group."""

from __future__ import annotations

from cdktn_provider_azurerm.application_insights import ApplicationInsights
from cdktn_provider_azurerm.monitor_action_group import (
    MonitorActionGroup,
    MonitorActionGroupEmailReceiver,
)
from constructs import Construct

from ..naming import azure_tags
from ..spec import PlatformSpec
from .base import Group, physical_name
from .defaults import short_name

__all__ = ["action_group", "application_insights"]


def application_insights(scope: Construct, spec: PlatformSpec, group: Group,
                         workspace_id: str) -> ApplicationInsights:
    """Workspace-based Application Insights; local (key) ingestion off: the service's
    identity sends telemetry with an Entra ID token."""
    return ApplicationInsights(
        scope, "Insights",
        name=physical_name(scope, "Insights", max_len=90, prefix="appi-"),
        location=group.location, resource_group_name=group.name,
        application_type="web", workspace_id=workspace_id,
        local_authentication_enabled=False,
        retention_in_days=90,
        tags=azure_tags(spec),
    )


def action_group(scope: Construct, spec: PlatformSpec, group: Group) -> MonitorActionGroup:
    """Where the generator's alerts go: one e-mail receiver per `monitoring.alarm_emails`
    address (none: the alerts still fire and show in the portal)."""
    return MonitorActionGroup(
        scope, "ActionGroup",
        name=physical_name(scope, "ActionGroup", max_len=60, prefix="ag-"),
        resource_group_name=group.name, location="global",
        short_name=short_name(f"synth{spec.name}"),
        email_receiver=[MonitorActionGroupEmailReceiver(
            name=f"email-{index}", email_address=email, use_common_alert_schema=True)
            for index, email in enumerate(spec.monitoring.alarm_emails)] or None,
        tags=azure_tags(spec),
    )
