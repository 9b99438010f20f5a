/**
 * The HTML shell of the client and its Content-Security-Policy.
 *
 * @module
 */

/**
 * The page every client route answers with; the bundle does the rest. `token` (the server's
 * token for state-changing requests) is handed to the page in a meta tag.
 */
export function indexHtml(token: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="convdeck-token" content="${token.replace(/[^A-Za-z0-9_-]/g, "")}">
<title>convdeck dashboard</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"></div>
<script type="module" src="/assets/app.js"></script>
</body>
</html>
`;
}

/** Content-Security-Policy directives for Hono's `secureHeaders`: same origin only. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  imgSrc: ["'self'", "data:", "blob:"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  scriptSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
};
