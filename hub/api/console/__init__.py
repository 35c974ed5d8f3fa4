"""The web console for people (data protection officers, MAPPA co-ordinators, operators): sign-in
through the agencies' OpenID Connect provider and server-rendered pages (issue 16)."""
