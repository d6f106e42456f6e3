import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TlsFiles {
  /** PEM certificate of the test CA that signed `cert`. */
  ca: string;
  /** PEM certificate for 127.0.0.1, signed by the CA. */
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** Makes a CA and a certificate for 127.0.0.1 signed by it, in `folder`, with openssl. */
export async function makeTlsFiles(folder: string, name = 'server'): Promise<TlsFiles> {
  const path = (file: string) => join(folder, `${name}-${file}`);
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  openssl(
    ['req', '-x509', ...curve, '-days', '1', '-subj', `/CN=smtpq test CA ${name}`].concat([
      '-keyout',
      path('ca.key'),
      '-out',
      path('ca.pem'),
    ]),
  );
  openssl(
    ['req', ...curve, '-subj', '/CN=127.0.0.1', '-keyout', path('key.pem')].concat([
      '-out',
      path('cert.csr'),
    ]),
  );
  await writeFile(path('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    ['x509', '-req', '-in', path('cert.csr'), '-CA', path('ca.pem'), '-CAkey']
      .concat([path('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', path('ext.cnf')])
      .concat(['-out', path('cert.pem')]),
  );

  return {
    ca: await readFile(path('ca.pem'), 'utf8'),
    cert: await readFile(path('cert.pem'), 'utf8'),
    key: await readFile(path('key.pem'), 'utf8'),
    certPath: path('cert.pem'),
    keyPath: path('key.pem'),
  };
}
