package odooserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// XML-RPC fault codes of /xmlrpc/2 (odoo/odoo addons/rpc/controllers/xmlrpc.py,
// RPC_FAULT_CODE_*).
const (
	faultApplication  = 1
	faultWarning      = 2
	faultAccessDenied = 3
	faultAccessError  = 4
)

// rpcError is a Python exception as the reference server raises it. It is
// rendered differently per protocol: a JSON-RPC envelope at HTTP 200, a JSON-2
// body with a real HTTP status, or an XML-RPC fault.
type rpcError struct {
	name       string // fully-qualified Python class, e.g. odoo.exceptions.AccessError
	message    string
	httpStatus int // JSON-2 status (json2.py Json2Dispatcher.handle_error)
	fault      int // XML-RPC fault code
	// jsonrpcCode/jsonrpcMessage override error.code/error.message of the
	// JSON-RPC envelope (100 "Odoo Session Expired").
	jsonrpcCode    int
	jsonrpcMessage string
	// arguments are the exception's args; nil means (message,).
	// werkzeug HTTPExceptions carry (description, code) in JSON-2 bodies.
	arguments []any
}

func (e *rpcError) args() []any {
	if e.arguments != nil {
		return e.arguments
	}
	return []any{e.message}
}

// errHTTP is a werkzeug HTTPException as Json2Dispatcher.handle_error
// renders it: status = code, arguments = (description, code).
func errHTTP(name string, status int, description string) *rpcError {
	return &rpcError{name: "werkzeug.exceptions." + name, message: description, httpStatus: status,
		fault: faultApplication, arguments: []any{description, status}}
}

func (e *rpcError) Error() string { return e.name + ": " + e.message }

// debug imitates the traceback Odoo puts in error.data.debug and in the
// faultString of application errors; clients display it, nobody parses it.
//
// Python prints built-in exceptions by their bare name ("TypeError: ...")
// and others by their qualified name ("odoo.exceptions.AccessError: ...").
func (e *rpcError) debug() string {
	return "Traceback (most recent call last):\n  File \"odooserver\", in dispatch\n" + strings.TrimPrefix(e.name, "builtins.") + ": " + e.message + "\n"
}

func (e *rpcError) faultString() string {
	if e.fault == faultApplication {
		return e.debug()
	}
	return e.message
}

// legacyFault is the (faultCode, faultString) pair of the legacy /xmlrpc/
// endpoints, whose codes are strings (addons/rpc/controllers/xmlrpc.py
// xmlrpc_handle_exception_string).
func (e *rpcError) legacyFault() (string, string) {
	short := e.name[strings.LastIndexByte(e.name, '.')+1:]
	switch e.name {
	case "odoo.exceptions.AccessDenied":
		return "AccessDenied", e.message
	case "odoo.exceptions.MissingError", "odoo.exceptions.AccessError", "odoo.exceptions.UserError", "odoo.exceptions.ValidationError":
		if short == "ValidationError" {
			short = "UserError"
		}
		return "warning -- " + short + "\n\n" + e.message, ""
	}
	return e.message, e.debug()
}

func errAccessDenied() *rpcError {
	return &rpcError{name: "odoo.exceptions.AccessDenied", message: "Access Denied", httpStatus: http.StatusUnauthorized, fault: faultAccessDenied}
}

func errAccess(format string, args ...any) *rpcError {
	return &rpcError{name: "odoo.exceptions.AccessError", message: fmt.Sprintf(format, args...), httpStatus: http.StatusForbidden, fault: faultAccessError}
}

// errModelAccess is the ACL refusal text of Odoo 16+ (ir.model.access
// _make_access_error) when no group grants the operation.
func errModelAccess(m *modelDef, op string) *rpcError {
	verb := map[string]string{"read": "read", "write": "modify", "create": "create", "unlink": "delete"}[op]
	return errAccess("You are not allowed to %s '%s' (%s) records.\n\nNo group currently allows this operation.\n\nContact your administrator to request access if necessary.", verb, m.description, m.name)
}

func errUser(format string, args ...any) *rpcError {
	return &rpcError{name: "odoo.exceptions.UserError", message: fmt.Sprintf(format, args...), httpStatus: http.StatusUnprocessableEntity, fault: faultWarning}
}

func errValidation(format string, args ...any) *rpcError {
	return &rpcError{name: "odoo.exceptions.ValidationError", message: fmt.Sprintf(format, args...), httpStatus: http.StatusUnprocessableEntity, fault: faultWarning}
}

func errMissing(model string, ids []int) *rpcError {
	return &rpcError{name: "odoo.exceptions.MissingError",
		message:    fmt.Sprintf("Record does not exist or has been deleted.\n(Record: %s(%s), User: %d)", model, pyTuple(ids), adminUID),
		httpStatus: http.StatusNotFound, fault: faultWarning}
}

func errValue(format string, args ...any) *rpcError {
	return &rpcError{name: "builtins.ValueError", message: fmt.Sprintf(format, args...), httpStatus: http.StatusInternalServerError, fault: faultApplication}
}

func errType(format string, args ...any) *rpcError {
	// json2.py answers 422 when arguments cannot be bound to the signature.
	return &rpcError{name: "builtins.TypeError", message: fmt.Sprintf(format, args...), httpStatus: http.StatusUnprocessableEntity, fault: faultApplication}
}

// errNoMethod: 16/17 fail in getattr on the class; 18 added
// odoo.service.model.get_public_method with its own message.
func errNoMethod(version int, model, method string) *rpcError {
	msg := fmt.Sprintf("type object '%s' has no attribute '%s'", model, method)
	if version >= 18 {
		msg = fmt.Sprintf("The method '%s.%s' does not exist", model, method)
	}
	return &rpcError{name: "builtins.AttributeError", message: msg, httpStatus: http.StatusNotFound, fault: faultApplication}
}

// errPrivateMethod: 16/17 odoo/models.py check_method_name names the method
// alone; 18 moved the check to odoo/service/model.py get_public_method,
// which names model and method.
func errPrivateMethod(version int, model, method string) *rpcError {
	if version < 18 {
		return errAccess("Private methods (such as %s) cannot be called remotely.", method)
	}
	return errAccess("Private methods (such as '%s.%s') cannot be called remotely.", model, method)
}

func errNoModel(model string) *rpcError {
	// odoo/service/model.py execute_cr raises UserError for unknown models.
	e := errUser("Object %s doesn't exist", model)
	e.httpStatus = http.StatusNotFound
	return e
}

// pyTuple formats ids the way Python prints a tuple: (1,) or (1, 2). It
// builds the text in one buffer: a read of 40,000 missing ids used to
// concatenate strings quadratically (issue 13, item 5).
func pyTuple(ids []int) string {
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return strconv.Itoa(ids[0]) + ","
	}
	b := make([]byte, 0, len(ids)*8)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return string(b)
}
