"""HTTP glue between the HTTP-triggered functions and the flows.

function_app.py hands each request over as plain values (method, URL, route parameters, query, headers,
body bytes) and turns the answer (status, headers, body) back into the host's response, so nothing below it
sees an `azure.functions` type:

    serve.py      runs one endpoint: its handler, and every failure as an RFC 9457 problem
    handlers.py   one function per endpoint: validate, call a flow, shape the answer
    bodies.py     request bodies and query strings as pydantic models
    parsing.py    reading a body or query string into a model, or a 400 problem saying what is wrong
    views.py      the JSON the endpoints answer with (the dashboard's contract)
    problems.py   problem details (application/problem+json)
    exchange.py   the plain request and response
"""
