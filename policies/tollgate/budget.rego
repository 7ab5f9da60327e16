package tollgate

# Budgets: every budget that applies to the call (use case, BU, agent, session) is read against its limit.
# The tightest of the use case, BU and agent budgets sets the tier, who is notified and whether a cheaper
# model is served; caps.rego rejects and clamps. Thresholds and fail modes are bundle data.

violations contains _violation("budget_unavailable", _unavailable_message) if {
	_degraded
	not _fail_open
}

# METADATA
# title: Budget tier
# description: >-
#   The highest tier among the use case, BU and agent budgets (the tightest wins): ok, notice, warning,
#   soft_cap, hard_cap by (spent + reserved) / limit against data.config.budget.tiers. none when no such
#   budget applies; unknown when the budget state cannot be used (unavailable, or unreadable) and no
#   numbers were given to decide on. Session budgets have no tiers: they only stop (caps.rego).
tier := "unknown" if {
	not _budgets_evaluated
} else := "none" if {
	count(_tiered) == 0
	_state_available
} else := "unknown" if {
	count(_tiered) == 0
} else := _tier_order[max({_tier_rank[_tier_of[i]] | some i, b in _budgets; b.scope != "session"})]

# METADATA
# title: Roles to notify
# description: The roles data.config.budget.notify lists for this call's tier (owner, finance).
notify := object.get(_budget_config.notify, tier, [])

_budget_config := data.config.budget

_thresholds := _budget_config.tiers

_tier_order := ["ok", "notice", "warning", "soft_cap", "hard_cap"]

_tier_rank[name] := i if some i, name in _tier_order

_state_available if input.budget_state.available == true

# Unavailable or unreadable budget facts: the use case's fail mode decides, never a guess.
_degraded if not _state_available

_degraded if not _budgets_readable

# Failing open on an unavailable state still decides on the numbers given (the last known state plus
# local spend): the same tiers, caps and clamps, on local accounting. Unreadable numbers are never used.
_budgets_evaluated if {
	_budgets_readable
	not _degraded
}

_budgets_evaluated if {
	_budgets_readable
	_fail_open
}

_budgets := input.budgets if _budgets_evaluated

else := []

_tiered := [b | some b in _budgets; b.scope != "session"]

_used(b) := b.spent + b.reserved

# `ratio`: the budget's (spent + reserved) / limit, null when its limit is not positive.
_budget_tier(b, ratio) := "hard_cap" if {
	b.limit <= 0
} else := _tier_at(ratio)

_tier_at(ratio) := "hard_cap" if {
	ratio >= _thresholds.hard_cap
} else := "soft_cap" if {
	ratio >= _thresholds.soft_cap
} else := "warning" if {
	ratio >= _thresholds.warning
} else := "notice" if {
	ratio >= _thresholds.notice
} else := "ok"

# Each budget as the decision reports it. ratio is null when there is no positive limit to divide by.
_budget_report := [{"id": b.id, "scope": b.scope, "tier": _tier_of[i], "ratio": object.get(_ratio_of, i, null)} | some i, b in _budgets]

# What the tier, the report, the violations and the clamp read of each budget (by its index in _budgets) is
# computed once per decision: a rule's value is kept for the evaluation, a function runs at every use.
_tier_of[i] := _tier_for(i) if some i, _ in _budgets

_used_of[i] := b.spent + b.reserved if some i, b in _budgets

_ratio_of[i] := _ratio(b, _used_of[i]) if some i, b in _budgets

_room_of[i] := _room(b, _used_of[i]) if some i, b in _budgets

_base_tier_of[i] := _budget_tier(b, _ratio_of[i]) if {
	some i, b in _budgets
	b.scope != "session"
}

_no_room_of contains i if {
	some i, tier in _base_tier_of
	tier == "hard_cap"
}

_no_room_of contains i if {
	some i, b in _budgets
	_session_exhausted(b)
}

_no_room_of contains i if {
	some i, room in _room_of
	room < _min_output
}

# A budget with no room left for this call has reached its hard cap for this call, even a little below
# 110%: its tier says so, so that the event and the notification of the cap are not lost to the clamp. One
# that is only busy (calls in flight hold the room, caps.rego) has not: its tier is what was spent.
# A session budget has no tiers: hard_cap when it stops this call, none otherwise.
_tier_for(i) := _tier_at(_budgets[i].spent / _budgets[i].limit) if {
	i in _busy_of
	_budgets[i].scope != "session"
} else := "none" if {
	i in _busy_of
} else := "hard_cap" if {
	i in _no_room_of
} else := tier if {
	tier := _base_tier_of[i]
} else := "none"

# (spent + reserved) / limit; for a session, the larger of that and calls / max_calls.
_ratio(b, used) := used / b.limit if {
	b.scope != "session"
	b.limit > 0
} else := max(shares) if {
	b.scope == "session"
	shares := {share | some [n, cap] in [[b.calls, b.max_calls], [used, b.limit]]; is_number(cap); cap > 0; share := n / cap}
	count(shares) > 0
} else := null

# Written out field by field rather than with `every` over lists of names: compiled to WASM, each `every` builds and
# counts a comprehension at every decision (with memoized per-budget figures above: a decision with three budgets
# took ×0.94 the time, policy microbench).
_budgets_readable if {
	is_array(input.budgets)
	count(_unreadable_budgets) == 0
	is_number(_thresholds.notice)
	is_number(_thresholds.warning)
	is_number(_thresholds.soft_cap)
	is_number(_thresholds.hard_cap)
	is_number(_estimate.input_tokens)
	is_number(_estimate.output_tokens)
	is_number(_estimate.tokens)
	is_number(_estimate.cost)
	is_number(_estimate.input_cost)
	is_number(_estimate.output_cost_per_token)
	is_number(_choices)
	_choices >= 1
	_choices == floor(_choices)
	is_number(_min_output)
	_min_output >= 1
}

_unreadable_budgets contains i if {
	some i, b in input.budgets
	not _budget_readable(b)
}

_budget_readable(b) if {
	b.scope in {"use_case", "bu", "agent"}
	_budget_common_readable(b)
	is_number(b.limit)
}

_budget_readable(b) if {
	b.scope == "session"
	_budget_common_readable(b)
	_number_or_null(object.get(b, "limit", null))
	_number_or_null(object.get(b, "max_calls", null))
}

_budget_common_readable(b) if {
	is_number(b.id)
	is_string(b.scope_id)
	b.unit in {"usd", "tokens"}
	is_number(b.spent)
	is_number(b.reserved)
	is_number(b.calls)
}

_number_or_null(x) if is_number(x)

_number_or_null(null)

_estimate := object.get(input, "estimate", {})

# Answers the call asks for (OpenAI chat n): the output limit is per answer. Absent means one (an older gateway);
# anything but a whole number from 1 leaves the budget facts unreadable, and the fail mode decides.
_choices := object.get(_estimate, "choices", 1)

# The least output limit per answer the provider accepts for this request (Anthropic extended thinking needs
# max_tokens above its thinking budget of at least 1,024): a budget with room for less has no room for the call.
_min_output := object.get(_estimate, "min_output_tokens", 1)

_unavailable_message := "the budget state is unavailable" if not _state_available

else := "the budget facts cannot be read"

# The fail mode of the tagged use case, else the default; anything but "open" fails closed.
_fail_open if _fail_mode == "open"

_fail_mode := object.get(_fail_modes_by_use_case, _use_case_tag, _default_fail_mode)

_when_unavailable := w if {
	w := _budget_config.when_unavailable
	is_object(w)
} else := {}

_default_fail_mode := object.get(_when_unavailable, "default", "closed")

_fail_modes_by_use_case := m if {
	m := _when_unavailable.use_cases
	is_object(m)
} else := {}

_use_case_tag := _tags.use_case if _has_tag("use_case")

else := ""

_cheaper := object.get(_catalog, "cheaper_model", null)

# At the soft cap the catalog's next cheaper model is served, but only on the route's own provider (the
# request body is already in that provider's shape) and only when it has a price in force.
_downgrade := _cheaper.id if {
	tier == "soft_cap"
	is_string(_cheaper.id)
	_cheaper.provider == _request_provider
	_cheaper.priced == true
}
