package arisim

// The /endpoints resource (res/ari/resource_endpoints.c): no channel
// driver with endpoints is loaded on the recorded Asterisk.

func (s api) EndpointsList(r *req) resp { return okRaw([]byte("[]")) }

func (s api) EndpointsListByTech(r *req) resp {
	return fail(404, "No Endpoints found - invalid tech %s", r.str("tech"))
}

func (s api) EndpointsGet(r *req) resp { return fail(404, "Endpoint not found") }

func (s api) EndpointsRefer(r *req) resp { return s.hEndpointMessage(r) }

// EndpointsReferToEndpoint looks the endpoint up first, as
// sendMessageToEndpoint does; no endpoint exists.
func (s api) EndpointsReferToEndpoint(r *req) resp { return fail(404, "Endpoint not found") }

func (s api) EndpointsSendMessage(r *req) resp { return s.hEndpointMessage(r) }

// EndpointsSendMessageToEndpoint is ast_ari_endpoints_send_message_to_endpoint:
// the endpoint's snapshot is looked up before anything else, and there
// are no endpoints.
func (s api) EndpointsSendMessageToEndpoint(r *req) resp { return fail(404, "Endpoint not found") }

// hEndpointMessage is sendMessage and refer: the body's variables are
// checked, then the destination (send_message: "To must be specified"),
// then, with no message technology loaded, ast_msg_send (or the refer)
// fails.
func (s api) hEndpointMessage(r *req) resp {
	if _, e := jsonVariables(r.body); e != nil {
		return *e
	}
	if r.str("to") == "" {
		return fail(400, "To must be specified")
	}
	return fail(404, "Endpoint not found")
}
