package tollgate

# Tags: every call names its BU, use case, agent and session, in x-tollgate-* headers or W3C baggage.

_required_tags := ["bu", "use_case", "agent_id", "session_id"]

violations contains _violation("missing_tag", _missing_tag_message(name)) if {
	some name in _required_tags
	not _has_tag(name)
}

violations contains _violation("conflicting_tag", _conflict_message(_str(name))) if {
	some name in object.get(_tags, "conflicts", [])
}

_tags := object.get(input, "tags", {})

# A tag is present when it is a non-empty string; null, "" and absent all count as missing.
_has_tag(name) if {
	value := _tags[name]
	is_string(value)
	value != ""
}

_header(name) := concat("", ["x-tollgate-", replace(name, "_", "-")])

_missing_tag_message(name) := concat("", ["missing tag: ", name, " (send ", _header(name), " or baggage ", name, ")"])

_conflict_message(name) := concat("", ["conflicting tag: ", name, " (", _header(name), " and baggage ", name, " differ)"])
