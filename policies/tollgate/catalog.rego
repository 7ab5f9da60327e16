package tollgate

# Catalog: the tagged BU and use case must exist, and the use case must belong to that BU.
# Each check waits for its tag, so a missing tag is reported once, as missing_tag.

violations contains _violation("unknown_bu", concat("", ["unknown business unit: ", _tags.bu])) if {
	_has_tag("bu")
	not _catalog_bu.id == _tags.bu
}

violations contains _violation("unknown_use_case", concat("", ["unknown use case: ", _tags.use_case])) if {
	_has_tag("use_case")
	not _catalog_use_case.id == _tags.use_case
}

violations contains _violation("use_case_bu_mismatch", _use_case_bu_message) if {
	_has_tag("bu")
	_catalog_use_case.id == _tags.use_case
	_use_case_bu != _tags.bu
}

_catalog := object.get(input, "catalog", {})

_catalog_bu := object.get(_catalog, "bu", null)

_catalog_use_case := object.get(_catalog, "use_case", null)

_use_case_bu := object.get(_catalog_use_case, "bu_id", null)

_use_case_bu_message := concat("", ["use case ", _tags.use_case, " belongs to ", _str(_use_case_bu), ", not to ", _tags.bu])
