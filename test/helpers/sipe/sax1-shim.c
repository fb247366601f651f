/*
 * LD_PRELOAD shim for the SIPE test (test/sipe.test.ts).
 *
 * SIPE (src/core/sipe-xml.c) parses every XML document with xmlSAXUserParseMemory() and a static
 * handler that fills in only the SAX1 callbacks (startElement, endElement, characters, error) but
 * sets `initialized` to XML_SAX2_MAGIC. Debian 12's libxml2 (2.9.14+dfsg-1.3~deb12u*) then treats
 * the handler as a SAX2 one and never calls the SAX1 element callbacks, so SIPE gets an empty tree
 * for every document. This shim passes libxml2 a copy of the handler with `initialized` cleared, a
 * plain SAX1 handler, which libxml2 drives through the callbacks SIPE gave.
 *
 * It does not include libxml2's headers (libxml2-dev need not be installed): the handler is 27
 * function pointers, then `unsigned int initialized`, then four pointers, on every ABI libxml2 2.9
 * supports.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#define SAX2_MAGIC 0xDEEDBEAFu

struct sax_handler {
	void *callbacks[27];
	unsigned int initialized;
	void *private_data;
	void *start_element_ns;
	void *end_element_ns;
	void *serror;
};

typedef int (*parse_memory_fn)(struct sax_handler *sax, void *user_data, const char *buffer, int size);

int xmlSAXUserParseMemory(struct sax_handler *sax, void *user_data, const char *buffer, int size)
{
	static parse_memory_fn real;
	struct sax_handler copy;

	if (real == NULL) {
		real = (parse_memory_fn) dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
		if (real == NULL)
			return -1;
	}
	/* Only a handler like SIPE's: SAX2 magic, SAX1 element callbacks, no SAX2 ones. */
	if (sax == NULL || sax->initialized != SAX2_MAGIC ||
	    sax->start_element_ns != NULL || sax->end_element_ns != NULL ||
	    (sax->callbacks[14] == NULL && sax->callbacks[15] == NULL))
		return real(sax, user_data, buffer, size);

	memcpy(&copy, sax, sizeof copy);
	copy.initialized = 0;
	return real(&copy, user_data, buffer, size);
}
