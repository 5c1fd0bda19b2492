-- execute.lua -- wrk script of row 2: executeAnalysis POSTs, each a new study
--
-- wrk -s bench/execute.lua URL -- PREFIX TOKENS NAMESPACES CALLBACK ENDPOINT
-- Every request carries a studyInstanceUid never sent before (PREFIX, the
-- wrk thread and a counter), so each is a new study: a durable write.
-- TOKENS and NAMESPACES are comma-separated lists of the same length; the
-- requests take them in turn, so that no namespace reaches its limit of
-- queued studies ([limits] queued_studies) during a run.
-- The image key is the same for all (the benchmark's OSS serves any key).

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

local counter = 0
local prefix, template
local hdrs = {}

local function split(s)
   local out = {}
   for item in string.gmatch(s or "", "[^,]+") do
      table.insert(out, item)
   end
   return out
end

function init(args)
   prefix = string.format("%s.%d", args[1] or "bench", tid or 0)
   local tokens, names = split(args[2]), split(args[3])
   for i = 1, math.max(#names, 1) do
      table.insert(hdrs, {
         ["Content-Type"] = "application/json; charset=utf-8",
         ["tokenId"] = tokens[i] or "",
         ["namespace"] = names[i] or "",
      })
   end
   template = '{"studyInstanceUid":"%s","studyType":4,' ..
      '"statusNotifyCallBackUrl":"' .. (args[4] or "") .. '",' ..
      '"accessKeyId":"AKIDbench0123456789","accessKeySecret":"SKbench0123456789abcdefghijklmn",' ..
      '"endpoint":"' .. (args[5] or "") .. '","bucketName":"bench",' ..
      '"key":"img/%s.dcm"}'
end

function request()
   counter = counter + 1
   local uid = string.format("%s.%d", prefix, counter)
   return wrk.format("POST", nil, hdrs[counter % #hdrs + 1],
                     string.format(template, uid, uid))
end
