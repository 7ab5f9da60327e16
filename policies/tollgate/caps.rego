package tollgate

# Caps: no call may take a budget past its cap. A use case, BU or agent budget is capped at its hard-cap
# threshold times its limit; a session budget at its limit and at max_calls. A call whose worst case would
# pass a cap has its output clamped to what fits; the clamp is per answer (a call may ask for several, OpenAI's
# n), so what fits is shared by every answer; when less than the least valid output per answer fits (one token,
# or above the thinking budget for Anthropic's extended thinking), it is rejected.
# Every budget that stops the call is a reason; among reasons of one code the order is by message, so the
# message names the budget deterministically. The clamp is priced at the requested model: a soft-cap
# downgrade to a cheaper model only leaves more room.

violations contains _violation("budget_exhausted", _cap_message(b)) if {
	some i in _no_room_of
	not i in _busy_of
	b := _budgets[i]
	b.scope != "session"
}

violations contains _violation("session_budget_exhausted", _session_message(b)) if {
	some i in _no_room_of
	not i in _busy_of
	b := _budgets[i]
	b.scope == "session"
}

# A call refused only because other calls in flight hold the room (their reservations, replicas' leases), while
# what was spent leaves room for it, can succeed once they finish: budget_busy, and the client may retry.
violations contains _violation("budget_busy", _busy_message(b)) if {
	some i in _busy_of
	b := _budgets[i]
}

# METADATA
# title: Budgets that are only busy
# description: >-
#   The budgets (by index) with no room for this call that would have room for it were nothing held by calls
#   in flight: spend alone is below the cap by at least the call's input and its least output per answer.
#   A session that made its number of calls is not busy: those calls count whether or not they finished.
_busy_of contains i if {
	some i in _no_room_of
	b := _budgets[i]
	not _calls_exhausted(b)
	_fits_by_spend(b)
}

_fits_by_spend(b) if {
	is_number(b.limit)
	b.limit > 0
	left := _cap_amount(b) - b.spent
	_worst[b.unit] <= left
}

_fits_by_spend(b) if {
	is_number(b.limit)
	b.limit > 0
	left := _cap_amount(b) - b.spent
	_worst[b.unit] > left
	_output_room(b.unit, left) >= _min_output
}

# METADATA
# title: Output clamp
# description: >-
#   The output-token limit per answer the call must be held to so that no cap can be passed: the least room
#   over every budget the worst case would overrun. null when nothing needs clamping or the call is denied.
max_output_tokens := n if {
	_allowed
	n := min({room | some room in _room_of})
	n < _estimate.output_tokens
} else := null

_exhausted(b) if {
	b.scope != "session"
	_budget_tier(b, _ratio(b, _used(b))) == "hard_cap"
}

_exhausted(b) if _session_exhausted(b)

_session_exhausted(b) if _calls_exhausted(b)

_session_exhausted(b) if _session_spend_exhausted(b)

_calls_exhausted(b) if {
	b.scope == "session"
	is_number(b.max_calls)
	b.calls >= b.max_calls
}

_session_spend_exhausted(b) if {
	b.scope == "session"
	is_number(b.limit)
	_used(b) >= b.limit
}

# The output tokens that still fit under the budget's cap, defined only when the worst case does not fit.
_room(b, used) := _output_room(b.unit, remaining) if {
	is_number(b.limit)
	remaining := _cap_amount(b) - used
	_worst[b.unit] > remaining
}

_cap_amount(b) := b.limit if b.scope == "session"

else := _thresholds.hard_cap * b.limit

_worst := {"usd": _estimate.cost, "tokens": _estimate.tokens}

_input_part := {"usd": _estimate.input_cost, "tokens": _estimate.input_tokens}

_per_output_token := {"usd": _estimate.output_cost_per_token, "tokens": 1}

_output_room(unit, remaining) := floor((remaining - _input_part[unit]) / (_per_output_token[unit] * _choices)) if {
	_per_output_token[unit] > 0
} else := 0 if {
	# Free output (embeddings, count_tokens): no clamp can help, so the call fits whole or not at all.
	_input_part[unit] > remaining
}

_cap_message(b) := sprintf("%v %v is at its hard cap (%v)", [b.scope, b.scope_id, _standing(b)]) if {
	_exhausted(b)
} else := sprintf("%v %v has no room under its hard cap for this call (%v)", [b.scope, b.scope_id, _standing(b)])

_standing(b) := sprintf("limit %v %v %v", [b.limit, b.unit, _period_phrase(b)]) if {
	b.limit <= 0
} else := sprintf("%v%% of %v %v %v", [floor(_ratio(b, _used(b)) * 100), b.limit, b.unit, _period_phrase(b)])

_session_message(b) := sprintf("session %v has made %v of its %v calls %v", [_session_label, b.calls, b.max_calls, _period_phrase(b)]) if {
	_calls_exhausted(b)
} else := sprintf("session %v is at its cap (%v of %v %v %v)", _session_spend(b)) if {
	_session_spend_exhausted(b)
} else := sprintf("session %v has no room under its cap for this call (%v of %v %v %v)", _session_spend(b))

_session_spend(b) := [_session_label, _used(b), b.limit, b.unit, _period_phrase(b)]

_busy_message(b) := sprintf("%v %v has room for this call only once calls in flight finish (%v%% spent, %v%% held by calls in flight, of %v %v %v); retry shortly", [
	_scope_label(b), _scope_name(b), floor((b.spent / b.limit) * 100), floor((b.reserved / b.limit) * 100), b.limit, b.unit, _period_phrase(b),
])

_scope_label(b) := "session" if b.scope == "session"

else := b.scope

_scope_name(b) := _session_label if b.scope == "session"

else := b.scope_id

_session_label := _tags.session_id if _has_tag("session_id")

else := "(untagged)"

_period_phrase(b) := object.get(_period_phrases, object.get(b, "period", ""), "this period")

_period_phrases := {"day": "today", "week": "this week", "month": "this month", "quarter": "this quarter"}
