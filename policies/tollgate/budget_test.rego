package tollgate

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
		tier == want with input as _with({"budget": {"spent": spent}}, [])
	}
}

test_no_budget_is_tier_none if {
	tier == "none" with input as _with({"budget": null}, [])
	tier == "none" with input as _with({}, ["budget"])
}

test_zero_or_negative_limit_is_hard_cap if {
	every limit in [0, -5] {
		tier == "hard_cap" with input as _with({"budget": {"limit": limit, "spent": 0}}, [])
	}
}

test_notify_follows_the_tier if {
	notify == [] with input as data.fixtures.base
	notify == ["owner"] with input as _with({"budget": {"spent": 600}}, [])
	notify == ["owner", "finance"] with input as _with({"budget": {"spent": 900}}, [])
	notify == ["owner", "finance"] with input as _with({"budget": {"spent": 1200}}, [])
}

test_hard_cap_rejects_with_no_retry if {
	d := decision with input as _with({"budget": {"spent": 1100}}, [])
	d.allowed == false
	d.http_status == 429
	d.headers == {"x-should-retry": "false"}
	d.model == null
}

test_budget_unavailable_fails_closed_by_default if {
	d := decision with input as _with({"budget": {"available": false}}, [])
	d.code == "budget_unavailable"
	d.http_status == 503
	d.tier == "unknown"
}

test_budget_unavailable_fails_open_when_configured if {
	d := decision with input as _with({"budget": {"available": false}}, [])
		with data.config.budget.when_unavailable as "open"
	d.allowed == true
	d.tier == "unknown"
	d.notify == []
	d.model == "gpt-4o"
}

test_unreadable_thresholds_make_the_tier_unknown if {
	tier == "unknown" with input as data.fixtures.base with data.config.budget.tiers.hard_cap as null
	d := decision with input as data.fixtures.base with data.config.budget.tiers.warning as "0.8"
	d.code == "budget_unavailable"
}

test_thresholds_from_data if {
	tier == "notice" with input as _with({"budget": {"spent": 300}}, [])
		with data.config.budget.tiers as {"notice": 0.25, "warning": 0.5, "soft_cap": 0.75, "hard_cap": 1}
}

test_soft_cap_downgrades_on_the_same_provider_only if {
	_downgrade == "gpt-4o-mini" with input as _with({"budget": {"spent": 1000}}, [])
	not _downgrade with input as _with({"budget": {"spent": 1000}, "catalog": {"cheaper_model": {"provider": "anthropic"}}}, [])
	not _downgrade with input as _with({"budget": {"spent": 1000}, "catalog": {"cheaper_model": null}}, [])
	not _downgrade with input as _with({"budget": {"spent": 999}}, [])
}

test_shipped_thresholds_ascend if {
	t := data.config.budget.tiers
	t.notice < t.warning
	t.warning < t.soft_cap
	t.soft_cap < t.hard_cap
	data.config.budget.when_unavailable in {"open", "closed"}
}
