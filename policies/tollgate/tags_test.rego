package tollgate

test_all_tags_present if {
	every name in _required_tags {
		_has_tag(name) with input as data.fixtures.base
	}
}

test_missing_tag_names_the_tag if {
	v := violations with input as _with({}, ["tags/use_case"])
	v == {_violation("missing_tag", "missing tag: use_case (send x-tollgate-use-case or baggage use_case)")}
}

test_null_empty_and_non_string_tags_are_missing if {
	every value in [null, "", 42, ["marketing"]] {
		"missing_tag" in _codes({"tags": {"bu": value}}, [])
	}
}

test_no_tags_at_all if {
	v := violations with input as _with({"tags": null}, [])
	count({m | some x in v; x.code == "missing_tag"; m := x.message}) == 4
}

test_conflicting_tags if {
	v := violations with input as _with({"tags": {"conflicts": ["bu", "session_id"]}}, [])
	v == {
		_violation("conflicting_tag", "conflicting tag: bu (x-tollgate-bu and baggage bu differ)"),
		_violation("conflicting_tag", "conflicting tag: session_id (x-tollgate-session-id and baggage session_id differ)"),
	}
}

test_empty_conflicts_are_fine if {
	_codes({"tags": {"conflicts": []}}, []) == set()
}
