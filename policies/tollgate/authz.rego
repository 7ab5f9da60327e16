package tollgate

# Agent authorization: the credential's agent must be in the catalog, active, tagged as itself,
# in the tagged BU, and allowed on the tagged use case.

violations contains _violation("unknown_agent", concat("", ["unknown agent: ", _agent_label])) if {
	_authenticated
	not _agent_known
}

violations contains _violation("agent_disabled", concat("", ["agent ", _agent.id, " is ", _str(_agent_status)])) if {
	_agent_known
	_agent_status != "active"
}

violations contains _violation("agent_id_mismatch", _agent_id_message) if {
	_authenticated
	_has_tag("agent_id")
	_tags.agent_id != _agent_id
}

violations contains _violation("agent_bu_mismatch", _agent_bu_message) if {
	_agent_known
	_has_tag("bu")
	_agent_bu != _tags.bu
}

violations contains _violation("use_case_not_allowed", _use_case_message) if {
	_agent_known
	_has_tag("use_case")
	not _tags.use_case in object.get(_agent, "use_cases", [])
}

_agent := object.get(_catalog, "agent", null)

# The catalog entry must be the credential's own agent, not merely some agent.
_agent_known if {
	is_string(_agent_id)
	_agent.id == _agent_id
}

_agent_label := _agent_id if is_string(_agent_id)

else := "(credential names no agent)"

_agent_status := object.get(_agent, "status", "unknown")

_agent_id_message := concat("", ["tag agent_id ", _tags.agent_id, " does not match the credential's agent ", _agent_label])

_agent_bu := object.get(_agent, "bu_id", null)

_agent_bu_message := concat("", ["agent ", _agent.id, " belongs to ", _str(_agent_bu), ", not to ", _tags.bu])

_use_case_message := concat("", ["agent ", _agent.id, " is not allowed on use case ", _tags.use_case])
