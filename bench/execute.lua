-- execute.lua -- wrk script of row 2: executeAnalysis POSTs, each a new study
--
-- wrk -s bench/execute.lua URL -- PREFIX TOKEN NAMESPACE CALLBACK ENDPOINT
-- Every request carries a studyInstanceUid never sent before (PREFIX, the
-- wrk thread and a counter), so each is a new study: a durable write.
-- The image key is the same for all (the benchmark's OSS serves any key).

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

local counter = 0
local prefix, template, hdrs

function init(args)
   prefix = string.format("%s.%d", args[1] or "bench", tid or 0)
   hdrs = {
      ["Content-Type"] = "application/json; charset=utf-8",
      ["tokenId"] = args[2] or "",
      ["namespace"] = args[3] or "",
   }
   template = '{"studyInstanceUid":"%s","studyType":4,' ..
      '"statusNotifyCallBackUrl":"' .. (args[4] or "") .. '",' ..
      '"accessKeyId":"AKIDbench0123456789","accessKeySecret":"SKbench0123456789abcdefghijklmn",' ..
      '"endpoint":"' .. (args[5] or "") .. '","bucketName":"bench",' ..
      '"key":"img/%s.dcm"}'
end

function request()
   counter = counter + 1
   local uid = string.format("%s.%d", prefix, counter)
   return wrk.format("POST", nil, hdrs, string.format(template, uid, uid))
end
