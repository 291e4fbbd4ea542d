/* doc/openapi.yaml, the JSON API's OpenAPI 3.0 description, built into the binary
 * (openapi_doc.c is generated from it by the Makefile) so that GET /v1/openapi.yaml always
 * describes the API of the ceirgw that serves it, whatever is installed beside it. */
#ifndef CEIRGW_CHANNEL_OPENAPI_H
#define CEIRGW_CHANNEL_OPENAPI_H

#include <stddef.h>

extern const unsigned char ceirgw_openapi_yaml[];
extern const size_t ceirgw_openapi_yaml_len;

#endif
