package arisim

// The /endpoints resource (res/ari/resource_endpoints.c): no channel
// driver with endpoints is loaded on the recorded Asterisk.

func (s api) EndpointsList(r *req) resp { return okRaw([]byte("[]")) }

func (s api) EndpointsListByTech(r *req) resp {
	return fail(404, "No Endpoints found - invalid tech %s", r.str("tech"))
}

func (s api) EndpointsGet(r *req) resp { return fail(404, "Endpoint not found") }

func (s api) EndpointsRefer(r *req) resp { return s.hEndpointMessage(r) }

func (s api) EndpointsReferToEndpoint(r *req) resp { return s.hEndpointMessage(r) }

func (s api) EndpointsSendMessage(r *req) resp { return s.hEndpointMessage(r) }

func (s api) EndpointsSendMessageToEndpoint(r *req) resp { return s.hEndpointMessage(r) }

// hEndpointMessage is sendMessage, sendMessageToEndpoint, refer and
// referToEndpoint: the body's variables are checked, then, with no message
// technology or endpoint loaded, ast_msg_send (or the refer) fails.
func (s api) hEndpointMessage(r *req) resp {
	if _, e := jsonVariables(r.body); e != nil {
		return *e
	}
	return fail(404, "Endpoint not found")
}
