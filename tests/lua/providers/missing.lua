-- Lacks two required callbacks.
return { create_pod = function() end }
