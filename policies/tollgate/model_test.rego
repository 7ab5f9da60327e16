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

# A vendor's model: allowed through its canonical model (every vendor) or by its own id (that vendor only).
_azure_call := {"request": {"provider": "azure", "model": "azure/gpt-4o"}, "catalog": {"model": {"id": "azure/gpt-4o", "provider": "azure", "canonical": "gpt-4o"}}}

test_vendor_model_allowed_through_its_canonical_model if {
	_codes(object.union(_azure_call, {"catalog": {"agent": {"models": ["gpt-4o"]}}}), []) == set()
}

test_vendor_model_allowed_by_its_own_id if {
	_codes(object.union(_azure_call, {"catalog": {"agent": {"models": ["azure/gpt-4o"]}}}), []) == set()
}

test_vendor_model_not_allowed_for_another_canonical_model if {
	v := violations with input as _with(object.union(_azure_call, {"catalog": {"agent": {"models": ["gpt-4o-mini", "azure/gpt-4o-mini"]}}}), [])
	v == {_violation("model_not_allowed", "agent promo-planner is not allowed to use model azure/gpt-4o")}
}

test_agent_without_models_is_not_allowed if {
	_codes({}, ["catalog/agent/models"]) == {"model_not_allowed"}
}

test_unpriced_model_is_denied_by_default if {
	v := violations with input as _with({"catalog": {"model": {"priced": false}}}, [])
	v == {_violation("model_not_priced", "model gpt-4o has no price in force")}
}

test_absent_priced_fact_is_unpriced if {
	_codes({}, ["catalog/model/priced"]) == {"model_not_priced"}
}

test_priced_must_be_literally_true if {
	_codes({"catalog": {"model": {"priced": "yes"}}}, []) == {"model_not_priced"}
}

test_unknown_model_is_not_also_unpriced if {
	_codes({"catalog": {"model": null}}, []) == {"unknown_model"}
}

test_estimate_mode_of_the_use_case_allows_it if {
	v := violations with input as _with({"catalog": {"model": {"priced": false}}}, [])
		with data.config.unpriced as {"use_cases": {"trade-promo": "estimate"}}
	count(v) == 0
}

test_estimate_mode_by_default_allows_it if {
	v := violations with input as _with({"catalog": {"model": {"priced": false}}}, [])
		with data.config.unpriced as {"default": "estimate"}
	count(v) == 0
}

test_use_case_deny_overrides_an_estimate_default if {
	v := violations with input as _with({"catalog": {"model": {"priced": false}}}, [])
		with data.config.unpriced as {"default": "estimate", "use_cases": {"trade-promo": "deny"}}
	v == {_violation("model_not_priced", "model gpt-4o has no price in force")}
}

test_malformed_unpriced_data_denies if {
	every config in [null, "estimate", {"use_cases": "estimate"}] {
		_codes({"catalog": {"model": {"priced": false}}}, []) == {"model_not_priced"} with data.config.unpriced as config
	}
}

test_estimate_is_noted_on_the_decision if {
	d := decision with input as _with({"catalog": {"model": {"priced": false}}}, [])
		with data.config.unpriced as {"default": "estimate"}
	d.allowed
	d.reasons == [{"code": "model_priced_by_estimate", "message": "model gpt-4o has no price in force; use case trade-promo runs it on an estimate"}]
}
