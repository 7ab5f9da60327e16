# METADATA
# title: tollgate
# description: >-
#   One decision per agent -> model call: identity, tags, catalog, agent authorization, model and budget
#   checks each add violations; the highest-precedence one sets the status and code.
package tollgate

# METADATA
# title: The decision
# description: >-
#   The one answer the gateway acts on: allow/deny, HTTP status and error code, budget tier, roles to
#   notify, the model to serve (null when denied), the output-token clamp, each budget's tier and ratio,
#   response headers, and every violation in precedence order (then any notes on how it was decided).
# entrypoint: true
decision := {
	"allowed": _allowed,
	"http_status": _http_status,
	"code": _code,
	"message": _message,
	"tier": tier,
	"notify": notify,
	"model": _served_model,
	"max_output_tokens": max_output_tokens,
	"budgets": _budget_report,
	"headers": _decision_headers,
	"reasons": _reasons,
}

# Codes in precedence order (identity, tags, catalog, agent authorization, model, budget) with their
# HTTP status; a budget past its cap outranks a session cap, being the wider stop. src/errors.ts is the
# catalogue they must match (test/unit/policy/codes.test.ts checks).
_catalogue := [
	["missing_credential", 401],
	["revoked_credential", 401],
	["identity_unavailable", 503],
	["invalid_credential", 401],
	["missing_tag", 400],
	["conflicting_tag", 400],
	["unknown_bu", 400],
	["unknown_use_case", 400],
	["use_case_bu_mismatch", 400],
	["unknown_agent", 403],
	["agent_disabled", 403],
	["agent_id_mismatch", 403],
	["agent_bu_mismatch", 403],
	["use_case_not_allowed", 403],
	["missing_model", 400],
	["unknown_model", 400],
	["model_provider_mismatch", 400],
	["model_not_allowed", 403],
	["model_not_priced", 403],
	["budget_unavailable", 503],
	["budget_exhausted", 429],
	["session_budget_exhausted", 429],
	["budget_busy", 429],
]

_rank[entry[0]] := i if some i, entry in _catalogue

_status_of[entry[0]] := entry[1] if some entry in _catalogue

_no_retry := {"x-should-retry": "false"}

# Busy: the SDKs retry a 429 that says it may, after Retry-After (seconds) or retry-after-ms.
_retry_soon := {
	"x-should-retry": "true",
	"retry-after": sprintf("%d", [ceil(_busy_retry_after_ms / 1000)]),
	"retry-after-ms": sprintf("%d", [_busy_retry_after_ms]),
}

# When the gateway expects held room back (input.budget_state.retry_after_ms: about a recent call's length plus a
# metering flush), no sooner than the configured floor, and within the minute the SDKs wait at most.
_busy_retry_after_ms := min([max([_busy_retry_floor_ms, _busy_retry_hint_ms]), 60000])

_busy_retry_floor_ms := ceil(ms) if {
	ms := data.config.budget.busy_retry_after_ms
	is_number(ms)
	ms > 0
} else := 1000

_busy_retry_hint_ms := ceil(ms) if {
	ms := input.budget_state.retry_after_ms
	is_number(ms)
	ms > 0
} else := 0

# Built only for the code that has them: an else chain is evaluated no further than its first match, and
# _retry_soon's sprintf runs in JavaScript (it was a tenth of every decision's time when built for each one).
_decision_headers := _no_retry if {
	_code in {"budget_exhausted", "session_budget_exhausted"}
} else := _retry_soon if {
	_code == "budget_busy"
} else := {}

# The one way a violation is built.
_violation(code, message) := {"code": code, "message": message}

default _allowed := false

_allowed if count(violations) == 0

# An uncatalogued code ranks first and answers 500, so a typo is loud rather than silently outranked.
_ranked := sort([[object.get(_rank, v.code, -1), v.code, v.message] | some v in violations])

_reasons := array.concat([{"code": code, "message": message} | some [_, code, message] in _ranked], _notes)

# Notes qualify a decision without denying it; they follow every violation, so they never set the code.
_notes := array.concat(_budget_notes, _price_notes)

_budget_notes := [_note("budget_state_local", _local_message)] if {
	_degraded
	_fail_open
} else := []

_price_notes := [_note("model_priced_by_estimate", _estimate_message)] if {
	_model_unpriced
	_unpriced_mode == "estimate"
} else := []

_note(code, message) := {"code": code, "message": message}

_local_message := concat("", [_unavailable_message, "; use case ", _use_case_tag, " fails open on local accounting"])

_code := "ok" if _allowed

else := _reasons[0].code

_message := "allowed" if _allowed

else := _reasons[0].message

_http_status := 200 if _allowed

else := object.get(_status_of, _code, 500)

_served_model := null if not _allowed

else := _downgrade if is_string(_downgrade)

else := _request.model

_str(value) := value if is_string(value)

else := json.marshal(value)
