package tollgate

test_missing_model if {
	every model in [null, "", 4] {
		_codes({"request": {"model": model}, "catalog": {"model": null}}, []) == {"missing_model"}
	}
}

test_unknown_model if {
	v := violations with input as _with({"catalog": {"model": null}}, [])
	v == {_violation("unknown_model", "unknown model: gpt-4o")}
}

test_catalog_model_must_be_the_requested_one if {
	_codes({"catalog": {"model": {"id": "gpt-4.1"}}}, []) == {"unknown_model"}
}

test_model_provider_mismatch if {
	_codes({"request": {"provider": "anthropic"}}, []) == {"model_provider_mismatch"}
}

test_missing_provider_is_a_mismatch if {
	v := violations with input as _with({}, ["request/provider"])
	v == {_violation("model_provider_mismatch", "model gpt-4o is served by openai, not by null")}
}

test_model_not_allowed if {
	v := violations with input as _with({"catalog": {"agent": {"models": ["gpt-4o-mini"]}}}, [])
	v == {_violation("model_not_allowed", "agent promo-planner is not allowed to use model gpt-4o")}
}

test_agent_without_models_is_not_allowed if {
	_codes({}, ["catalog/agent/models"]) == {"model_not_allowed"}
}
