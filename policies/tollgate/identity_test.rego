package tollgate

test_authenticated_has_no_identity_violation if {
	_codes({}, []) == set()
}

test_missing_credential if {
	_codes({"identity": {"authenticated": false, "kind": "none"}}, ["identity/agent_id"]) == {"missing_credential"}
}

test_missing_identity_is_missing_credential if {
	_codes({}, ["identity"]) == {"missing_credential"}
}

test_revoked_credential if {
	_codes({"identity": {"authenticated": false, "failure": "revoked"}}, []) == {"revoked_credential"}
}

test_other_failures_are_invalid_credential if {
	every failure in ["malformed", "unknown_key", "invalid_jwt", "expired_jwt"] {
		_codes({"identity": {"authenticated": false, "kind": "jwt", "failure": failure}}, []) == {"invalid_credential"}
	}
}

test_invalid_credential_without_failure if {
	_codes({"identity": {"authenticated": null}}, []) == {"invalid_credential"}
	v := violations with input as _with({"identity": {"authenticated": false, "failure": 7}}, [])
	v == {_violation("invalid_credential", "invalid credential: 7")}
}

test_identity_unavailable if {
	_codes({"identity": {"authenticated": false, "kind": "agent_key", "failure": "unavailable"}}, []) == {"identity_unavailable"}
}
