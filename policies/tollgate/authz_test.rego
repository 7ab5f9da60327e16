package tollgate

test_unknown_agent if {
	v := violations with input as _with({"catalog": {"agent": null}}, [])
	v == {_violation("unknown_agent", "unknown agent: promo-planner")}
}

test_authenticated_without_agent_id if {
	v := violations with input as _with({}, ["identity/agent_id"])
	v == {
		_violation("unknown_agent", "unknown agent: (credential names no agent)"),
		_violation("agent_id_mismatch", "tag agent_id promo-planner does not match the credential's agent (credential names no agent)"),
	}
}

test_unauthenticated_is_not_also_unknown_agent if {
	_codes({"identity": {"authenticated": false, "kind": "none"}, "catalog": {"agent": null}}, ["identity/agent_id"]) == {"missing_credential"}
}

test_agent_disabled if {
	every status in ["disabled", "suspended", null] {
		_codes({"catalog": {"agent": {"status": status}}}, []) == {"agent_disabled"}
	}
}

test_agent_without_status_is_disabled if {
	v := violations with input as _with({}, ["catalog/agent/status"])
	v == {_violation("agent_disabled", "agent promo-planner is unknown")}
}

test_agent_id_mismatch if {
	v := violations with input as _with({"tags": {"agent_id": "forecast-bot"}}, [])
	v == {_violation("agent_id_mismatch", "tag agent_id forecast-bot does not match the credential's agent promo-planner")}
}

test_agent_bu_mismatch if {
	v := violations with input as _with({"catalog": {"agent": {"bu_id": "supply-chain"}}}, [])
	v == {_violation("agent_bu_mismatch", "agent promo-planner belongs to supply-chain, not to marketing")}
}

test_agent_without_bu_is_a_mismatch if {
	_codes({}, ["catalog/agent/bu_id"]) == {"agent_bu_mismatch"}
}

test_use_case_not_allowed if {
	v := violations with input as _with({"catalog": {"agent": {"use_cases": []}}}, [])
	v == {_violation("use_case_not_allowed", "agent promo-planner is not allowed on use case trade-promo")}
}

test_agent_without_use_cases_is_not_allowed if {
	_codes({}, ["catalog/agent/use_cases"]) == {"use_case_not_allowed"}
}
