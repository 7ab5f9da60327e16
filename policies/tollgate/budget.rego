package tollgate

# Budget: the use case's spend against its limit sets the tier; the tier sets who is notified, whether a
# cheaper model is served, and whether the call is rejected. Thresholds and the fail mode are bundle data.

violations contains _violation("budget_exhausted", "the use case has reached its hard budget cap") if {
	tier == "hard_cap"
}

violations contains _violation("budget_unavailable", "the budget state is unavailable") if {
	tier == "unknown"
	not _fail_open
}

# METADATA
# title: Budget tier
# description: >-
#   none (no budget), ok, notice, warning, soft_cap, hard_cap by spent / limit against
#   data.config.budget.tiers; unknown when the budget state (or the thresholds) cannot be read.
tier := "none" if {
	_budget == null
} else := "unknown" if {
	not _budget_readable
} else := "hard_cap" if {
	_budget.limit <= 0
} else := _tier_at(_budget.spent / _budget.limit)

# METADATA
# title: Roles to notify
# description: The roles data.config.budget.notify lists for this call's tier (owner, finance).
notify := object.get(_budget_config.notify, tier, [])

_budget_config := data.config.budget

_thresholds := _budget_config.tiers

_tier_names := ["notice", "warning", "soft_cap", "hard_cap"]

_budget := object.get(input, "budget", null)

# Facts or thresholds that cannot be read make the tier unknown, so the fail mode decides, never a guess.
_budget_readable if {
	_budget.available == true
	is_number(_budget.limit)
	is_number(_budget.spent)
	every name in _tier_names {
		is_number(_thresholds[name])
	}
}

_tier_at(ratio) := "hard_cap" if {
	ratio >= _thresholds.hard_cap
} else := "soft_cap" if {
	ratio >= _thresholds.soft_cap
} else := "warning" if {
	ratio >= _thresholds.warning
} else := "notice" if {
	ratio >= _thresholds.notice
} else := "ok"

_fail_open if _budget_config.when_unavailable == "open"

_cheaper := object.get(_catalog, "cheaper_model", null)

# At the soft cap the catalog's next cheaper model is served, but only on the route's own provider:
# the request body is already in that provider's shape.
_downgrade := _cheaper.id if {
	tier == "soft_cap"
	is_string(_cheaper.id)
	_cheaper.provider == _request_provider
}
