package tollgate

_budget_of := {
	"use_case": {"id": 1, "scope_id": "trade-promo"},
	"bu": {"id": 2, "scope_id": "marketing"},
	"agent": {"id": 3, "scope_id": "promo-planner"},
	"session": {"id": 4, "scope_id": "trade-promo", "period": "day", "limit": null, "max_calls": 50},
}

# A budget of scope, 1000 usd a month with 100 spent, patched.
_b(scope, patch) := object.union(
	object.union(
		{
			"scope": scope, "unit": "usd", "limit": 1000, "max_calls": null, "period": "month",
			"period_start": "2025-11-01T00:00:00Z", "spent": 100, "reserved": 0, "calls": 0,
		},
		_budget_of[scope],
	),
	patch,
)

_uc(patch) := _b("use_case", patch)

_on(budgets) := _with({"budgets": budgets}, [])

_away(budgets) := _with({"budgets": budgets, "budget_state": {"available": false}}, [])

_tier_for_spent := {
	0: "ok",
	499.99: "ok",
	500: "notice",
	799.99: "notice",
	800: "warning",
	999.99: "warning",
	1000: "soft_cap",
	1099.99: "soft_cap",
	1100: "hard_cap",
	9000: "hard_cap",
}

test_tiers_by_ratio if {
	every spent, want in _tier_for_spent {
		tier == want with input as _on([_uc({"spent": spent})])
	}
}

test_calls_in_flight_count_toward_the_ratio if {
	tier == "warning" with input as _on([_uc({"spent": 400, "reserved": 400})])
	_budget_report == [{"id": 1, "scope": "use_case", "tier": "warning", "ratio": 0.8}] with input as _on([_uc({"spent": 400, "reserved": 400})])
}

test_no_budget_is_tier_none if {
	tier == "none" with input as data.fixtures.base
	tier == "none" with input as _on([_b("session", {})])
}

test_zero_or_negative_limit_is_hard_cap if {
	every limit in [0, -5] {
		tier == "hard_cap" with input as _on([_uc({"limit": limit, "spent": 0})])
		_budget_report[0].ratio == null with input as _on([_uc({"limit": limit, "spent": 0})])
	}
}

test_the_tightest_budget_sets_the_tier if {
	budgets := [_uc({}), _b("bu", {"spent": 850}), _b("agent", {"spent": 600})]
	every i, want in ["ok", "warning", "warning"] {
		tier == want with input as _on(array.slice(budgets, 0, i + 1))
	}
	tier == "warning" with input as _on(array.reverse(budgets))
	notify == ["owner", "finance"] with input as _on(budgets)
}

test_notify_follows_the_tier if {
	notify == [] with input as data.fixtures.base
	notify == ["owner"] with input as _on([_uc({"spent": 600})])
	notify == ["owner", "finance"] with input as _on([_uc({"spent": 900})])
	notify == ["owner", "finance"] with input as _on([_uc({"spent": 1200})])
}

test_session_budgets_report_their_own_ratio if {
	report := _budget_report with input as _on([
		_b("session", {"calls": 10, "max_calls": 40, "limit": 2, "spent": 1}),
		_b("session", {"calls": 10}),
		_b("session", {"max_calls": null}),
		_b("session", {"calls": 50}),
	])
	report == [
		{"id": 4, "scope": "session", "tier": "none", "ratio": 0.5},
		{"id": 4, "scope": "session", "tier": "none", "ratio": 0.2},
		{"id": 4, "scope": "session", "tier": "none", "ratio": null},
		{"id": 4, "scope": "session", "tier": "hard_cap", "ratio": 1},
	]
}

test_budget_unavailable_fails_closed_by_default if {
	d := decision with input as _away([_uc({})])
	d.code == "budget_unavailable"
	d.message == "the budget state is unavailable"
	d.http_status == 503
	d.tier == "unknown"
	d.budgets == []
}

test_budget_unavailable_fails_open_per_use_case if {
	d := decision with input as _away([])
		with data.config.budget.when_unavailable as {"default": "closed", "use_cases": {"trade-promo": "open"}}
	d.allowed == true
	d.tier == "unknown"
	d.notify == []
	d.model == "gpt-4o"
	d.reasons == [_note("budget_state_local", "the budget state is unavailable; use case trade-promo fails open on local accounting")]
}

test_failing_open_decides_on_local_numbers if {
	open := {"default": "open"}
	tier == "notice" with input as _away([_uc({"spent": 550})]) with data.config.budget.when_unavailable as open
	tier == "unknown" with input as _away([_b("session", {})]) with data.config.budget.when_unavailable as open
	"budget_exhausted" in _codes({"budgets": [_uc({"spent": 1100})], "budget_state": {"available": false}}, [])
		with data.config.budget.when_unavailable as open
}

test_fail_modes_by_use_case if {
	every modes, want in {
		{"default": "open", "use_cases": {"trade-promo": "closed"}}: "budget_unavailable",
		{"default": "closed", "use_cases": {"demand-forecasting": "open"}}: "budget_unavailable",
		{"default": "open", "use_cases": {"demand-forecasting": "closed"}}: "ok",
		{"default": "opne"}: "budget_unavailable",
		{"use_cases": "trade-promo"}: "budget_unavailable",
		{}: "budget_unavailable",
	} {
		d := decision with input as _away([]) with data.config.budget.when_unavailable as modes
		d.code == want
	}
}

test_a_legacy_string_fail_mode_fails_closed if {
	d := decision with input as _away([]) with data.config.budget.when_unavailable as "open"
	d.code == "budget_unavailable"
}

test_an_untagged_use_case_takes_the_default_fail_mode if {
	modes := {"default": "open", "use_cases": {"trade-promo": "closed"}}
	not "budget_unavailable" in _codes({"budget_state": {"available": false}}, ["tags/use_case"])
		with data.config.budget.when_unavailable as modes
}

test_unreadable_budget_facts_fail_closed if {
	every budgets in [
		"none",
		[_uc({"id": "1"})],
		[_uc({"scope": "team"})],
		[_uc({"scope_id": null})],
		[_uc({"unit": "eur"})],
		[_uc({"limit": null})],
		[_uc({"reserved": "0"})],
		[_b("session", {"max_calls": "50"})],
		[_b("session", {"limit": "5"})],
	] {
		d := decision with input as _on(budgets)
		d.code == "budget_unavailable"
		d.message == "the budget facts cannot be read"
		d.tier == "unknown"
	}
}

test_a_session_budget_may_leave_out_its_limits if {
	tier == "none" with input as _on([json.remove(_b("session", {}), ["limit", "max_calls"])])
}

test_unreadable_estimate_fails_closed if {
	every field in ["input_tokens", "output_tokens", "tokens", "cost", "input_cost", "output_cost_per_token"] {
		_codes({}, [concat("/", ["estimate", field])]) == {"budget_unavailable"}
	}
}

test_unreadable_facts_never_decide_even_failing_open if {
	d := decision with input as _on([_uc({"spent": "lots"})]) with data.config.budget.when_unavailable as {"default": "open"}
	d.allowed == true
	d.tier == "unknown"
	d.reasons == [_note("budget_state_local", "the budget facts cannot be read; use case trade-promo fails open on local accounting")]
}

test_unreadable_thresholds_make_the_tier_unknown if {
	tier == "unknown" with input as data.fixtures.base with data.config.budget.tiers.hard_cap as null
	d := decision with input as data.fixtures.base with data.config.budget.tiers.warning as "0.8"
	d.code == "budget_unavailable"
}

test_thresholds_from_data if {
	tier == "notice" with input as _on([_uc({"spent": 300})])
		with data.config.budget.tiers as {"notice": 0.25, "warning": 0.5, "soft_cap": 0.75, "hard_cap": 1}
}

test_soft_cap_downgrades_on_the_same_provider_only if {
	_downgrade == "gpt-4o-mini" with input as _on([_uc({"spent": 1000})])
	_downgrade == "gpt-4o-mini" with input as _on([_uc({}), _b("agent", {"spent": 1050})])
	not _downgrade with input as _with({"budgets": [_uc({"spent": 1000})], "catalog": {"cheaper_model": {"provider": "anthropic"}}}, [])
	not _downgrade with input as _with({"budgets": [_uc({"spent": 1000})], "catalog": {"cheaper_model": null}}, [])
	not _downgrade with input as _on([_uc({"spent": 999})])
}

test_shipped_budget_data_is_well_formed if {
	t := data.config.budget.tiers
	t.notice < t.warning
	t.warning < t.soft_cap
	t.soft_cap < t.hard_cap
	modes := data.config.budget.when_unavailable
	modes["default"] in {"open", "closed"}
	every mode in modes.use_cases {
		mode in {"open", "closed"}
	}
}

test_soft_cap_never_downgrades_to_an_unpriced_model if {
	not _downgrade with input as _with({"budgets": [_uc({"spent": 1000})], "catalog": {"cheaper_model": {"priced": false}}}, [])
	_downgrade == "gpt-4o-mini" with input as _with({"budgets": [_uc({"spent": 1000})]}, [])
}
