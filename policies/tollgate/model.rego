package tollgate

# Model: the request names a catalogued model, served by this provider route, that the agent may use, and
# that has a price in force, unless the bundle's data lets the use case run unpriced models on an estimate.

violations contains _violation("missing_model", "the request names no model") if {
	not _model_named
}

violations contains _violation("unknown_model", concat("", ["unknown model: ", _request.model])) if {
	_model_named
	not _model_known
}

violations contains _violation("model_provider_mismatch", _provider_message) if {
	_model_known
	_model_provider != _request_provider
}

violations contains _violation("model_not_allowed", _model_message) if {
	_model_known
	_agent_known
	not _agent_may_use_model
}

# An agent may use a model it is allowed, or a vendor's model (azure/gpt-4.1) whose canonical model (gpt-4.1) it
# is allowed: allowing the canonical model allows it on every vendor, allowing the vendor's model only there.
_agent_may_use_model if _request.model in object.get(_agent, "models", [])

_agent_may_use_model if object.get(_catalog_model, "canonical", null) in object.get(_agent, "models", [])

violations contains _violation("model_not_priced", _not_priced_message) if {
	_model_unpriced
	_unpriced_mode != "estimate"
}

_request := object.get(input, "request", {})

_catalog_model := object.get(_catalog, "model", null)

_model_named if {
	is_string(_request.model)
	_request.model != ""
}

_model_known if {
	_model_named
	_catalog_model.id == _request.model
}

_model_provider := object.get(_catalog_model, "provider", null)

_request_provider := object.get(_request, "provider", null)

_provider_message := concat("", [
	"model ", _request.model, " is served by ", _str(_model_provider), ", not by ", _str(_request_provider),
])

_model_message := concat("", ["agent ", _agent.id, " is not allowed to use model ", _request.model])

# A known model the gateway did not say is priced is unpriced: an absent fact never bills at 0.
_model_unpriced if {
	_model_known
	not _catalog_model.priced == true
}

# METADATA
# title: What an unpriced model may do
# description: >-
#   data.config.unpriced: per use case (else the default), "deny" (model_not_priced) or "estimate" (allowed,
#   metered at an estimate and flagged). Anything but "estimate" denies.
_unpriced_mode := object.get(_unpriced_by_use_case, _use_case_tag, _default_unpriced_mode)

_unpriced_config := u if {
	u := data.config.unpriced
	is_object(u)
} else := {}

_default_unpriced_mode := object.get(_unpriced_config, "default", "deny")

_unpriced_by_use_case := m if {
	m := _unpriced_config.use_cases
	is_object(m)
} else := {}

_not_priced_message := concat("", ["model ", _request.model, " has no price in force"])

_estimate_message := concat("", ["model ", _request.model, " has no price in force; use case ", _use_case_tag, " runs it on an estimate"])
