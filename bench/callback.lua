-- callback.lua -- wrk script of row 3's reference: POSTs shaped as mias's
-- status callbacks (API.md 2.: the same body size and Standard Webhooks
-- headers) to the benchmark sink, to measure what the sink can take.

wrk.method = "POST"
wrk.body = '{"studyInstanceUid":"bench.7.1.1234","studyType":4,"status":0,' ..
   '"errorCode":null,"errorMessage":null}'
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
wrk.headers["User-Agent"] = "mias-dispatcher/0.1.0"
wrk.headers["webhook-id"] = "msg_2p0dAbCdEfGhIjKlMnOpQrStUvW"
wrk.headers["webhook-timestamp"] = "1700000000"
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
