local P = {}
function P.create_pod(pod
return P
