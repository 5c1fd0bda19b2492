/* result.h -- engine results (API.md 6.) checked against the findings schemas of API.md 3. */
#ifndef MIAS_RESULT_H
#define MIAS_RESULT_H

#include <stddef.h>

#include <json-c/json.h>

#define RESULT_MAX_ITEMS	10000	/* findings in one result */
#define RESULT_MAX_POINTS	100000	/* [x, y] pairs in one posMap */
#define RESULT_OK_CODE		"000000"

struct result {
	int		 r_engine_ok;	/* returnCode was "000000" */
	char		 r_code[32];	/* the engine's returnCode, cleaned */
	char		 r_message[512];	/* the engine's returnMessage,
					 * cleaned: tab, CR, LF become spaces,
					 * other control characters removed,
					 * valid UTF-8, truncated */
	char		 r_image_uid[256];	/* ImageUid as sent, or "" */
	char		 r_namespace[129];	/* namespace as sent, or "" */
	json_object	*r_findings;	/* array, items in API.md 3. form;
					 * NULL when !r_engine_ok */
};

/*
 * Check an engine's result body for a study of study_type (1..4) and
 * normalise its findings.  Pure: no I/O, no globals (but indexIds an
 * engine leaves out are fresh random UUIDs).
 *
 * Returns 0 when the body is well formed -- r_engine_ok then tells whether
 * the engine succeeded; a failure report is a well-formed body -- or -1
 * with msg naming the first fault by its path, e.g. "Boxes[2].Coordinates:
 * must be an array of 4 numbers".  The struct is always initialised, so
 * result_free() may be called either way; after -1, r_engine_ok is 0,
 * r_findings NULL and the strings hold what had been read before the
 * fault.  The caller owns r_findings; numbers in it keep the text the
 * engine wrote (0.8900 stays 0.8900, 1e-3 stays 1e-3) as long as it is
 * serialised by json-c, and an engine's returnCode is success only when
 * it is exactly "000000".
 */
int	result_parse(int study_type, const char *body, size_t len,
	    struct result *, char *msg, size_t msglen);
void	result_free(struct result *);

/* The list of a study type: "boxes", "imageDataList", "xRayDataList",
 * "ocularDataList" (API.md 3.), and the engine's "Boxes", "ImageDataList",
 * "XRayDataList", "OcularDataList" (API.md 6.).  NULL for a bad type. */
const char	*result_list_name(int study_type);
const char	*result_engine_list_name(int study_type);

/*
 * The data object of API.md 3. with every list present and empty:
 * {"studyInstanceUid":..., "studyType":N, "boxes":[], "ocularDataList":[],
 * "xRayDataList":[], "imageDataList":[]}.  NULL for a bad type or when out
 * of memory.  The caller fills the list of the type (result_list_name).
 */
json_object	*result_data_new(const char *study_uid, int study_type);

/*
 * The compatibility list "boxDataList" of API.md 3. made from normalised
 * box findings: the same items with "classLevel" in place of "class".
 * Values are shared with boxes (reference counted), not copied.  NULL
 * when boxes is not an array or out of memory.
 */
json_object	*result_box_compat(json_object *boxes);

/*
 * The fingerprint of a result body, to tell an engine's repeated result
 * from a different one (algorithmResult): the hex SHA-256 of the body
 * parsed as JSON (jv_parse) and written canonically -- object members
 * sorted by name, no white space, numbers by value (1, 1.0 and 1e0
 * alike), strings as json-c escapes them -- so two bodies have the same
 * digest exactly when they are equal as parsed JSON.  A body that is not
 * JSON is hashed as its bytes (under another prefix, so it never meets a
 * JSON one).  Pure; -1 only when out of memory.
 */
#define RESULT_DIGEST_LEN	64	/* hex digits */
int	result_digest(const char *body, size_t len,
	    char out[RESULT_DIGEST_LEN + 1]);

#endif /* MIAS_RESULT_H */
