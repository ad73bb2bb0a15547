"""Role settings as Graph's role management policies and their 17 fixed rules, both ways.

One policy per (directory, role): id "DirectoryRole_{directoryId}_{roleId}", and one policy
assignment "{policyId}_{roleId}". Reading renders RoleSettings as the 17 rules; a PATCH of one
rule becomes a RoleSettingsUpdate for policies.service.update_role_settings, so the bounds, the
MFA lock of highly privileged roles and the audit stay in one place.

A rule property OpenPIM has no setting for is reported with the value OpenPIM behaves by; a
PATCH may repeat that value (so GET-modify-PATCH round trips work) but not change it.

The nine Notification_{Admin|Requestor|Approver}_{Admin_Eligibility|Admin_Assignment|
EndUser_Assignment} rules are the role's notification rules (policies/notification_rules.py):
isDefaultRecipientsEnabled, notificationRecipients and notificationLevel are read and written.

- catalogue: the 17 rules by id (Expiration_*, Enablement_*, Approval_*, AuthenticationContext_*,
  Notification_*) and their @odata.types
- rule_items: RoleSettings rendered as the rules (`rule`, `rules`)
- rule_patch: a PATCH of one rule as RoleSettings changes (`changes_for`)
- policy_items: the policy and policy assignment items and their ids
"""
