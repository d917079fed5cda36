#!/usr/bin/perl
# WebCrypto after a tenant replaced the intrinsics it could reach (in the
# style of t/42): base64url decoding of JWKs and atob(), getRandomValues,
# randomUUID and crypto.subtle.timingSafeEqual read only what the built-ins
# captured at start-up. Each case tampers, then checks that the operation
# answers as it did before and that no tampered function ran.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

# Each case is a script of its own (the tampering stays in its isolate).
# `called` counts the calls that reached a tampered function.
sub case {
    my ($name, $code) = @_;
    $t->put_script('api', $name, q{
        let called = 0;
        const spy = (value) => function () { called++; return value; };
        const outcome = async (f) => { try { return await f(); } catch (e) { return `threw ${e.name}`; } };
    } . $code);
    my $r = $t->request('GET', "/t/$name");
    is $r->{status}, 200, "$name: the script ran" or diag $r->{content};
    return $r->{content};
}

is case('jwk-base64', q{
    const jwk = { kty: 'oct', k: 'c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3OA', alg: 'HS256' };
    const sign = async () => {
      const key = await crypto.subtle.importKey('jwk', jwk, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
      return new Uint8Array(await crypto.subtle.sign('HMAC', key, new Uint8Array([1, 2, 3]))).join();
    };
    export default { async fetch() {
      const before = await sign();
      String.prototype.replace = spy('QUJD');
      String.prototype.replaceAll = spy('QUJD');
      String.prototype.charCodeAt = spy(65);
      RegExp.prototype.exec = spy(null);
      RegExp.prototype.test = spy(true);
      RegExp.prototype[Symbol.replace] = spy('QUJD');
      Array.prototype.push = spy(0);
      Array.prototype.join = spy('QUJD');
      const after = await sign();
      return new Response(`${before === after} ${atob('aGVs bG8=')} ${btoa('hi')} calls=${called}`);
    } };
}), 'true hello aGk= calls=0',
    'JWK base64url, atob and btoa read no String.prototype.replace/charCodeAt, RegExp or Array method a tenant replaced';

is case('random-values', q{
    const TypedArray = Object.getPrototypeOf(Uint8Array.prototype);
    export default { async fetch() {
      ArrayBuffer.isView = spy(false);
      Array.prototype.includes = spy(false);
      Reflect.apply = spy(undefined);
      Object.defineProperty(TypedArray, 'byteLength', { get: spy(0), configurable: true });
      Object.defineProperty(TypedArray, 'length', { get: spy(0), configurable: true });
      Object.defineProperty(TypedArray, Symbol.toStringTag, { get: spy('Uint8Array'), configurable: true });
      const filled = crypto.getRandomValues(new Uint32Array(64));
      let nonZero = 0; for (let i = 0; i < 64; i++) if (filled[i] !== 0) nonZero++;
      const quota = await outcome(() => crypto.getRandomValues(new Uint8Array(65537)));
      const floats = await outcome(() => crypto.getRandomValues(new Float64Array(4)));
      return new Response(`${nonZero > 50} ${quota} ${floats} calls=${called}`);
    } };
}), 'true threw QuotaExceededError threw TypeError calls=0',
    'getRandomValues: a tenant\'s isView, includes and %TypedArray% getters neither decide nor see what is filled; the quota holds';

is case('random-uuid', q{
    export default { async fetch() {
      Number.prototype.toString = spy('zz');
      String.prototype.slice = spy('zz');
      String.prototype.padStart = spy('zz');
      const uuid = crypto.randomUUID();
      const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
      return new Response(`${shape.exec(uuid) !== null} calls=${called}`);
    } };
}), 'true calls=0', 'randomUUID: a version 4 UUID although Number.prototype.toString and String.prototype.slice were replaced';

is case('timing-safe-equal', q{
    const TypedArray = Object.getPrototypeOf(Uint8Array.prototype);
    export default { async fetch() {
      const a = new Uint8Array([1, 2, 3, 4]);
      ArrayBuffer.isView = spy(true);
      Object.defineProperty(TypedArray, 'length', { get: spy(0), configurable: true });
      Object.defineProperty(TypedArray, 'byteLength', { get: spy(0), configurable: true });
      Object.defineProperty(ArrayBuffer.prototype, 'byteLength', { get: spy(0), configurable: true });
      const same = crypto.subtle.timingSafeEqual(a, new Uint8Array([1, 2, 3, 4]));
      const differs = crypto.subtle.timingSafeEqual(a.buffer, new Uint8Array([1, 2, 3, 5]).buffer);
      const notBytes = await outcome(() => crypto.subtle.timingSafeEqual({ length: 4 }, { length: 4 }));
      const lengths = await outcome(() => crypto.subtle.timingSafeEqual(a, new Uint8Array(5)));
      return new Response(`${same} ${differs} ${notBytes} ${lengths} calls=${called}`);
    } };
}), 'true false threw TypeError threw TypeError calls=0',
    'timingSafeEqual: compares the real bytes whatever isView and the length getters say; look-alikes and unequal lengths are TypeError';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
