package tollgate

# Model: the request names a catalogued model, served by this provider route, that the agent may use.

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
	not _request.model in object.get(_agent, "models", [])
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
