package tollgate

# Identity: the gateway verified (or failed to verify) the credential; the policy turns that fact into a 401.

# METADATA
# title: Violations
# description: >-
#   Every reason this call may not proceed, each built by _violation. The checks live beside their
#   concern (identity, tags, catalog, authz, model, budget); decision.rego ranks them.
# scope: document
violations contains _violation("missing_credential", "no agent credential") if {
	not _authenticated
	_credential_kind == "none"
}

violations contains _violation("revoked_credential", "the agent key has been revoked") if {
	not _authenticated
	_credential_kind != "none"
	_identity.failure == "revoked"
}

violations contains _violation("identity_unavailable", "the credential could not be checked: the key store is unavailable") if {
	not _authenticated
	_credential_kind != "none"
	_failure == "unavailable"
}

violations contains _violation("invalid_credential", concat("", ["invalid credential: ", _str(_failure)])) if {
	not _authenticated
	_credential_kind != "none"
	not _failure in {"revoked", "unavailable"}
}

_identity := object.get(input, "identity", {})

_credential_kind := object.get(_identity, "kind", "none")

_failure := object.get(_identity, "failure", "unknown")

# Anything but a literal true (missing, null, "true") is unauthenticated: fail closed.
_authenticated if _identity.authenticated == true

_agent_id := object.get(_identity, "agent_id", null)
