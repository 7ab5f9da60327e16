package tollgate

test_known_bu_and_use_case if {
	_codes({}, []) == set()
}

test_unknown_bu if {
	_codes({"catalog": {"bu": null}}, []) == {"unknown_bu"}
}

test_unknown_bu_waits_for_the_tag if {
	_codes({"catalog": {"bu": null}}, ["tags/bu"]) == {"missing_tag"}
}

test_unknown_use_case if {
	_codes({"catalog": {"use_case": null}}, []) == {"unknown_use_case"}
}

test_use_case_bu_mismatch if {
	_codes({"catalog": {"use_case": {"bu_id": "supply-chain"}}}, []) == {"use_case_bu_mismatch"}
}

test_use_case_without_bu_is_a_mismatch if {
	v := violations with input as _with({}, ["catalog/use_case/bu_id"])
	v == {_violation("use_case_bu_mismatch", "use case trade-promo belongs to null, not to marketing")}
}

test_no_catalog_at_all if {
	_codes({"catalog": null}, []) == {"unknown_bu", "unknown_use_case", "unknown_agent", "unknown_model"}
}
