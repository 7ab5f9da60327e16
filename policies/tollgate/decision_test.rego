package tollgate

# The shared fixtures (fixtures/cases.json, loaded as data.fixtures) run here against the Rego and in
# test/unit/policy/fixtures.test.ts against the compiled WASM.

test_every_fixture_matches if {
	failures := {c.name: diff |
		some c in data.fixtures.cases
		diff := _fixture_diff(c)
		count(diff) > 0
	}
	print("fixture failures:", failures)
	count(failures) == 0
}

test_fixture_cases_exist if count(data.fixtures.cases) > 60

test_decision_is_fully_populated if {
	every c in data.fixtures.cases {
		config := _fixture_config(c)
		got := decision with input as _fixture_input(c) with data.config as config
		object.keys(got) == {
			"allowed", "http_status", "code", "message", "tier", "notify", "model",
			"max_output_tokens", "budgets", "headers", "reasons",
		}
	}
}

test_allowed_decision if {
	d := decision with input as data.fixtures.base
	d == {
		"allowed": true, "http_status": 200, "code": "ok", "message": "allowed", "tier": "none",
		"notify": [], "model": "gpt-4o", "max_output_tokens": null, "budgets": [], "headers": {}, "reasons": [],
	}
}

test_reasons_are_ranked_by_precedence if {
	d := decision with input as _with({"identity": {"authenticated": false, "kind": "none"}, "catalog": {"model": null}}, ["tags/bu"])
	[r.code | some r in d.reasons] == ["missing_credential", "missing_tag", "unknown_model"]
	d.code == "missing_credential"
	d.http_status == 401
	d.model == null
}

test_every_catalogued_code_has_a_rank_and_status if {
	count(_rank) == count(_catalogue)
	count(_status_of) == count(_catalogue)
}

test_uncatalogued_code_is_loud if {
	d := decision with violations as {_violation("no_such_code", "typo")}
	d.code == "no_such_code"
	d.http_status == 500
	d.allowed == false
}

test_str_marshals_non_strings if {
	_str("x") == "x"
	_str(null) == "null"
	_str(3) == "3"
}

# The case's data deep-merged into the shipped data.config.
_fixture_config(c) := object.union(data.config, object.get(c, "data", {}))

# The fixture input: base, deep-merged with patch (null sets null), minus the unset paths.
_fixture_input(c) := _with(object.get(c, "patch", {}), object.get(c, "unset", []))

_with(patch, unset) := json.remove(object.union(data.fixtures.base, patch), unset)

_fixture_diff(c) := {field: {"want": want, "got": got} |
	observed := _observed(c)
	some field, want in c.expect
	got := object.get(observed, field, "(absent)")
	got != want
}

# An undefined decision must fail the fixture, not vanish from the comprehension.
_observed(c) := object.union(d, {"reason_codes": [r.code | some r in d.reasons]}) if {
	config := _fixture_config(c)
	d := decision with input as _fixture_input(c) with data.config as config
} else := {}

_codes(patch, unset) := {v.code | some v in found} if {
	found := violations with input as _with(patch, unset)
}
