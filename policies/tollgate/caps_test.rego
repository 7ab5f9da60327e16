package tollgate

# The base estimate: 1000 input tokens (0.0025 usd) and up to 1000 output tokens at 0.00001 usd each.

test_hard_cap_rejects_with_no_retry if {
	d := decision with input as _on([_uc({"spent": 1100})])
	d.allowed == false
	d.http_status == 429
	d.headers == {"x-should-retry": "false"}
	d.model == null
	d.max_output_tokens == null
	d.message == "use_case trade-promo is at its hard cap (110% of 1000 usd this month)"
}

test_hard_cap_messages_name_scope_id_and_period if {
	every budget, want in {
		_b("bu", {"limit": 0, "spent": 0}): "bu marketing is at its hard cap (limit 0 usd this month)",
		_b("agent", {"unit": "tokens", "limit": 800, "spent": 1000, "period": "week"}): "agent promo-planner is at its hard cap (125% of 800 tokens this week)",
		_uc({"spent": 1500, "period": "quarter"}): "use_case trade-promo is at its hard cap (150% of 1000 usd this quarter)",
		_uc({"spent": 1500, "period": "fortnight"}): "use_case trade-promo is at its hard cap (150% of 1000 usd this period)",
		json.remove(_uc({"spent": 1500}), ["period"]): "use_case trade-promo is at its hard cap (150% of 1000 usd this period)",
	} {
		v := violations with input as _on([budget])
		v == {_violation("budget_exhausted", want)}
	}
}

test_every_exhausted_budget_is_a_reason if {
	v := violations with input as _on([_uc({"spent": 1200}), _b("bu", {"spent": 1100}), _b("agent", {})])
	v == {
		_violation("budget_exhausted", "use_case trade-promo is at its hard cap (120% of 1000 usd this month)"),
		_violation("budget_exhausted", "bu marketing is at its hard cap (110% of 1000 usd this month)"),
	}
}

test_session_call_cap if {
	v := violations with input as _on([_b("session", {"calls": 50})])
	v == {_violation("session_budget_exhausted", "session sess-42 has made 50 of its 50 calls today")}
	_codes({"budgets": [_b("session", {"calls": 49})]}, []) == set()
}

test_session_cost_cap if {
	v := violations with input as _on([_b("session", {"limit": 2, "spent": 2, "max_calls": null})])
	v == {_violation("session_budget_exhausted", "session sess-42 is at its cap (2 of 2 usd today)")}
}

test_session_cap_held_by_calls_in_flight_is_busy if {
	v := violations with input as _on([_b("session", {"limit": 2, "spent": 1.5, "reserved": 0.5, "max_calls": null})])
	v == {_violation("budget_busy", "session sess-42 has room for this call only once calls in flight finish (75% spent, 25% held by calls in flight, of 2 usd today); retry shortly")}
}

test_busy_when_only_calls_in_flight_hold_the_room if {
	d := decision with input as _on([_uc({"spent": 1000, "reserved": 100})])
	d.allowed == false
	d.http_status == 429
	d.code == "budget_busy"
	d.headers == {"x-should-retry": "true", "retry-after": "1", "retry-after-ms": "1000"}

	# The tier is what was spent: not a hard cap, so no cap event or notice comes of it.
	d.tier == "soft_cap"
	d.budgets == [{"id": 1, "scope": "use_case", "tier": "soft_cap", "ratio": 1.1}]
}

test_exhausted_when_spend_alone_leaves_no_room if {
	# 1099.999 spent: 0.001 left under the cap, less than the call's 0.0025 of input.
	_codes({"budgets": [_uc({"spent": 1099.999, "reserved": 50})]}, []) == {"budget_exhausted"}
	_codes({"budgets": [_uc({"spent": 1100})]}, []) == {"budget_exhausted"}

	# 1099.9 spent: room for the input and 9,750 output tokens once the reservations are gone.
	_codes({"budgets": [_uc({"spent": 1099.9, "reserved": 50})]}, []) == {"budget_busy"}
}

test_busy_outranked_by_exhausted if {
	codes := _codes({"budgets": [_uc({"spent": 1000, "reserved": 100}), _b("bu", {"spent": 1100})]}, [])
	codes == {"budget_exhausted", "budget_busy"}
	d := decision with input as _on([_uc({"spent": 1000, "reserved": 100}), _b("bu", {"spent": 1100})])
	d.code == "budget_exhausted"
	d.headers == {"x-should-retry": "false"}
}

test_a_session_that_made_its_calls_is_not_busy if {
	v := violations with input as _on([_b("session", {"calls": 50, "reserved": 1})])
	v == {_violation("session_budget_exhausted", "session sess-42 has made 50 of its 50 calls today")}
}

test_busy_retry_after_from_data if {
	d := decision with input as _on([_uc({"spent": 1000, "reserved": 100})]) with data.config.budget.busy_retry_after_ms as 2500
	d.headers == {"x-should-retry": "true", "retry-after": "3", "retry-after-ms": "2500"}
}

test_session_with_no_room_for_the_call if {
	v := violations with input as _on([_b("session", {"limit": 2, "spent": 1.999})])
	v == {_violation("session_budget_exhausted", "session sess-42 has no room under its cap for this call (1.999 of 2 usd today)")}
}

test_session_label_without_a_session_tag if {
	v := violations with input as _with({"budgets": [_b("session", {"calls": 50})]}, ["tags/session_id"])
	_violation("session_budget_exhausted", "session (untagged) has made 50 of its 50 calls today") in v
}

test_session_without_limits_never_stops if {
	_codes({"budgets": [_b("session", {"max_calls": null, "calls": 9999, "spent": 9999})]}, []) == set()
}

test_clamp_in_usd if {
	# 1000 + 99.994445 spent: 0.005555 left under the 1100 cap, 0.003055 after the input: 305 output tokens.
	d := decision with input as _on([_uc({"spent": 1000, "reserved": 99.994445})])
	d.allowed == true
	d.max_output_tokens == 305
}

test_clamp_in_tokens if {
	max_output_tokens == 500 with input as _on([_uc({"unit": "tokens", "limit": 100000, "spent": 108500})])
}

test_clamp_under_a_session_cap if {
	max_output_tokens == 305 with input as _on([_b("session", {"limit": 5, "spent": 4.994445})])
}

test_the_smallest_clamp_wins if {
	budgets := [
		_b("agent", {"unit": "tokens", "limit": 100000, "spent": 108000}),
		_uc({"unit": "tokens", "limit": 100000, "spent": 108500}),
		_b("session", {"unit": "tokens", "limit": 2900, "max_calls": null}),
	]
	max_output_tokens == 500 with input as _on(budgets)
}

test_no_clamp_when_the_worst_case_fits if {
	max_output_tokens == null with input as data.fixtures.base
	max_output_tokens == null with input as _on([_uc({"spent": 1099})])
	max_output_tokens == null with input as _on([_b("session", {"limit": 100})])
}

test_a_clamp_at_the_requested_output_is_no_clamp if {
	# A total rounded above its parts overruns the 2000 tokens left, yet all 1000 output tokens still fit.
	max_output_tokens == null with input as _with(
		{
			"budgets": [_uc({"unit": "tokens", "limit": 100000, "spent": 108000})],
			"estimate": {"tokens": 2500},
		},
		[],
	)
}

test_no_clamp_on_a_denied_call if {
	max_output_tokens == null with input as _with({"budgets": [_uc({"spent": 1000, "reserved": 99.99})], "catalog": {"agent": null}}, [])
}

test_a_clamp_below_one_token_rejects if {
	v := violations with input as _on([_uc({"unit": "tokens", "limit": 100000, "spent": 109000.5})])
	v == {_violation("budget_exhausted", "use_case trade-promo has no room under its hard cap for this call (109% of 100000 tokens this month)")}
}

test_free_output_fits_whole_or_not_at_all if {
	free := {"input_tokens": 1000, "output_tokens": 1000, "tokens": 2000, "input_cost": 0.0025, "output_cost_per_token": 0, "cost": 0.0125}
	fits := _with({"budgets": [_uc({"spent": 1099.995})], "estimate": free}, [])
	d := decision with input as fits
	d.allowed == true
	d.max_output_tokens == null
	_codes({"budgets": [_uc({"spent": 1099.998})], "estimate": free}, []) == {"budget_exhausted"}
}

test_free_output_in_tokens_is_still_counted if {
	free := {"input_tokens": 1000, "output_tokens": 0, "tokens": 1000, "input_cost": 0.00002, "output_cost_per_token": 0, "cost": 0.00002}
	_codes({"budgets": [_uc({"unit": "tokens", "limit": 1000, "spent": 1000})], "estimate": free}, []) == {"budget_exhausted"}
	_codes({"budgets": [_uc({"unit": "tokens", "limit": 1000, "spent": 100})], "estimate": free}, []) == set()
}

# Several answers (OpenAI's n): each may use the whole output limit, so the room is shared among them.
_answers(n, output) := {
	"input_tokens": 1000, "output_tokens": output, "choices": n, "tokens": 1000 + (n * output),
	"input_cost": 0.0025, "output_cost_per_token": 0.00001, "cost": 0.0025 + ((n * output) * 0.00001),
}

test_clamp_is_per_answer if {
	# 1500 tokens left under the cap, 1000 of them for the input: 500 output tokens shared by 4 answers.
	max_output_tokens == 125 with input as _with({"budgets": [_uc({"unit": "tokens", "limit": 100000, "spent": 108500})], "estimate": _answers(4, 1000)}, [])
}

test_n_128_under_a_5_cent_cap_is_clamped_per_answer if {
	# Issue 16 item 5: n 128 with max_tokens 2000 under 0.05 usd left; counted as one answer, 2000 fitted.
	budget := _uc({"limit": 1, "spent": 1.05})
	max_output_tokens == 37 with input as _with({"budgets": [budget], "estimate": _answers(128, 2000)}, [])
	max_output_tokens == null with input as _with({"budgets": [budget], "estimate": _answers(1, 2000)}, [])
}

test_no_room_for_one_token_per_answer_rejects if {
	# 100 output tokens left: one each for 100 answers, not for 128.
	budgets := [_uc({"unit": "tokens", "limit": 100000, "spent": 108900})]
	_codes({"budgets": budgets, "estimate": _answers(128, 1000)}, []) == {"budget_exhausted"}
	max_output_tokens == 1 with input as _with({"budgets": budgets, "estimate": _answers(100, 1000)}, [])
}

test_answers_default_to_one if {
	max_output_tokens == 500 with input as _with({"budgets": [_uc({"unit": "tokens", "limit": 100000, "spent": 108500})]}, ["estimate/choices"])
}

test_answers_that_are_not_a_whole_number_fail_closed if {
	every n in [0, -1, 1.5, "2", null] {
		_codes({"estimate": {"choices": n}}, []) == {"budget_unavailable"}
	}
}

test_a_clamp_keeps_the_least_valid_output if {
	# 1000 + 99.994445 spent: room for 305 output tokens. Extended thinking needs 1,025: no room, not a clamp of 305.
	thinking := {"input_tokens": 1000, "output_tokens": 1000, "tokens": 2000, "cost": 0.0125, "input_cost": 0.0025, "output_cost_per_token": 0.00001, "choices": 1, "min_output_tokens": 1025}
	d := decision with input as _with({"budgets": [_uc({"spent": 1000, "reserved": 99.994445})], "estimate": thinking}, [])
	d.allowed == false
	d.code == "budget_busy"
	d.max_output_tokens == null

	# 1000 + 99.98 spent: room for 1,750 output tokens, above 1,025: clamped there.
	max_output_tokens == 1750 with input as _with({"budgets": [_uc({"spent": 1000, "reserved": 99.98})], "estimate": json.patch(thinking, [{"op": "replace", "path": "/output_tokens", "value": 4000}, {"op": "replace", "path": "/tokens", "value": 5000}, {"op": "replace", "path": "/cost", "value": 0.0425}])}, [])
}

test_a_least_output_that_is_not_a_count_fails_closed if {
	bad := {"input_tokens": 1000, "output_tokens": 1000, "tokens": 2000, "cost": 0.0125, "input_cost": 0.0025, "output_cost_per_token": 0.00001, "min_output_tokens": 0}
	_codes({"estimate": bad}, []) == {"budget_unavailable"}
}

# The gateway's hint (about a recent call's length plus a flush) when it is later than the floor; never sooner
# than the floor, never past a minute, rounded up to whole milliseconds and seconds.
test_busy_retry_after_from_the_gateway_hint if {
	busy := [_uc({"spent": 1000, "reserved": 100})]
	later := decision with input as object.union(_on(busy), {"budget_state": {"available": true, "retry_after_ms": 4200.4}})
	later.headers == {"x-should-retry": "true", "retry-after": "5", "retry-after-ms": "4201"}

	sooner := decision with input as object.union(_on(busy), {"budget_state": {"available": true, "retry_after_ms": 300}})
	sooner.headers == {"x-should-retry": "true", "retry-after": "1", "retry-after-ms": "1000"}

	capped := decision with input as object.union(_on(busy), {"budget_state": {"available": true, "retry_after_ms": 600000}})
	capped.headers == {"x-should-retry": "true", "retry-after": "60", "retry-after-ms": "60000"}

	unreadable := decision with input as object.union(_on(busy), {"budget_state": {"available": true, "retry_after_ms": "soon"}})
	unreadable.headers == {"x-should-retry": "true", "retry-after": "1", "retry-after-ms": "1000"}
}
