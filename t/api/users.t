# Registration, email verification, password reset and the user routes.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use JSON::PP ();
use POSIX ();
use Test::More;
use KairosTest qw(for_each_backend hex_id unique_email);

my @user_fields = qw(_id country email instagram is_verified name phonenumber);
my @public_fields = qw(_id country instagram is_verified name phonenumber);

# Asserts a 422 whose first error has the given loc.
sub is_validation_error {
    my ($name, $loc, $status, $body) = @_;
    subtest $name => sub {
        is $status, 422, 'status is 422';
        is ref($body && $body->{detail}), 'ARRAY', 'detail is a list of errors';
        is_deeply $body->{detail}[0]{loc}, $loc, 'loc is [' . join(', ', @$loc) . ']';
        ok length($body->{detail}[0]{msg} // ''), 'the error has a msg';
    };
}

for_each_backend(sub {
    my ($srv) = @_;

    subtest 'register' => sub {
        my $email = unique_email('register');
        my ($status, $user) = $srv->register(email => $email, name => 'Ada', password => 'gravel-grinder',
            country => 'CH');
        is $status, 201, 'register answers 201';
        is_deeply [sort keys %$user], \@user_fields, 'user has exactly the answered fields, no password';
        ok hex_id($user->{_id}), '_id is 24 hex characters';
        is $user->{email}, $email, 'email as registered';
        is $user->{name}, 'Ada', 'name as registered';
        is $user->{country}, 'CH', 'optional country kept';
        is $user->{phonenumber}, undef, 'absent phonenumber is null';
        ok defined $user->{is_verified} && !$user->{is_verified}, 'a new user is not verified';

        my ($again) = $srv->register(email => "  \U$email\E ", name => 'Ada again', password => 'gravel-grinder');
        is $again, 400, 'same email in other case and with spaces answers 400';
        my (undef, $body) = $srv->register(email => $email, name => 'Ada again', password => 'gravel-grinder');
        is $body->{detail}, 'Email already registered', 'duplicate email detail';
    };

    subtest 'concurrent registrations of one email' => sub {
        my $email = unique_email('twin');
        my @pids;
        for my $twin (1 .. 2) {
            my $pid = fork;
            die "fork: $!" unless defined $pid;
            if ($pid == 0) {
                my ($status) = $srv->register(email => $email, name => "Twin $twin", password => 'same-time-123');
                POSIX::_exit($status == 201 ? 0 : $status == 400 ? 1 : 2);
            }
            push @pids, $pid;
        }
        my @outcomes = sort map { waitpid($_, 0); $? >> 8 } @pids;
        is_deeply \@outcomes, [0, 1], 'exactly one of two simultaneous registrations answers 201, the other 400';
    };

    subtest 'register validation' => sub {
        is_validation_error('bad email', ['body', 'email'],
            $srv->register(email => 'not-an-email', name => 'X', password => 'long-enough'));
        is_validation_error('short password', ['body', 'password'],
            $srv->register(email => unique_email('short'), name => 'X', password => '1234567'));
        is_validation_error('password over 1024 bytes', ['body', 'password'],
            $srv->register(email => unique_email('long'), name => 'X', password => 'p' x 1025));
        is_validation_error('missing name', ['body', 'name'],
            $srv->register(email => unique_email('noname'), password => 'long-enough'));
        my ($eight) = $srv->register(email => unique_email('eight'), name => 'X', password => '12345678');
        is $eight, 201, 'an 8-byte password is accepted';
    };

    subtest 'verify email' => sub {
        my $rider = $srv->new_rider(name => 'Verifier');
        my $token = $srv->wait_mail_token(verify => $rider->{email});
        ok $token, 'verification mail with a token appears in the log' or return;

        my ($status, $body) = $srv->request(GET => '/users/verify-email?' . $srv->query_string(token => $token));
        is $status, 200, 'verify-email answers 200';
        is_deeply $body, { message => 'Email verified successfully.' }, 'first verification message';
        my (undef, $me) = $srv->request(GET => '/users/me', token => $rider->{access});
        ok $me->{is_verified}, 'user is verified afterwards';

        my ($again_status, $again) = $srv->request(GET => '/users/verify-email?' . $srv->query_string(token => $token));
        is $again_status, 200, 'second verification answers 200';
        is_deeply $again, { message => 'Email already verified.' }, 'second verification message';

        my ($bad_status, $bad) = $srv->request(GET => '/users/verify-email?token=not-a-token');
        is $bad_status, 400, 'invalid token answers 400';
        ok defined $bad->{detail}, 'invalid token answer has a detail';
        my ($access_status) = $srv->request(GET => '/users/verify-email?' . $srv->query_string(token => $rider->{access}));
        is $access_status, 400, 'an access token is not a verification token';
    };

    subtest 'reset and update password' => sub {
        my $rider = $srv->new_rider(name => 'Forgetful');
        my $new_password = 'new-chain-ring-52';

        my ($known_status, undef, undef, $known_raw) = $srv->request(POST => '/users/reset-password?'
            . $srv->query_string(email => $rider->{email}));
        my ($unknown_status, undef, undef, $unknown_raw) = $srv->request(POST => '/users/reset-password?'
            . $srv->query_string(email => unique_email('ghost')));
        is $known_status, 202, 'reset for a known email answers 202';
        is $unknown_status, 202, 'reset for an unknown email answers 202';
        is $unknown_raw, $known_raw, 'known and unknown emails get identical bodies';

        my $token = $srv->wait_mail_token(reset => $rider->{email});
        ok $token, 'reset mail with a token appears in the log' or return;

        my ($weak_status) = $srv->request(POST => '/users/update-password', json => { token => $token, new_password => 'short' });
        is $weak_status, 422, 'a weak new password answers 422';

        my ($status, $body) = $srv->request(POST => '/users/update-password?'
            . $srv->query_string(token => $token, new_password => $new_password));
        is $status, 200, 'update-password from the query string answers 200';
        is_deeply $body, { message => 'Password updated successfully.' }, 'update-password message';

        my ($reuse_status) = $srv->request(POST => '/users/update-password',
            json => { token => $token, new_password => 'yet-another-one' });
        is $reuse_status, 400, 'a reset token works only once';

        my ($new_login, $new_tokens) = $srv->login($rider->{email}, $new_password);
        is $new_login, 200, 'login with the new password works';
        my ($old_login) = $srv->login($rider->{email}, $rider->{password});
        is $old_login, 400, 'login with the old password fails';

        my ($old_access, $old_access_body) = $srv->request(GET => '/users/me', token => $rider->{access});
        is $old_access, 401, 'an access token from before the change is refused';
        is $old_access_body && $old_access_body->{detail}, 'Could not validate credentials', 'and its detail';
        my ($new_access) = $srv->request(GET => '/users/me', token => $new_tokens && $new_tokens->{access_token});
        is $new_access, 200, 'an access token from after the change works';

        # A body keeps the passwords out of the query string.
        my ($again) = $srv->request(POST => '/users/reset-password', json => { email => $rider->{email} });
        is $again, 202, 'reset with the email in a JSON body answers 202';
        my $second = $srv->wait_mail_token(reset => $rider->{email}, [$token]);
        ok $second, 'a second reset mail arrives' or return;
        my ($form_status) = $srv->request(POST => '/users/update-password',
            form => [token => $second, new_password => 'form-password-1']);
        is $form_status, 200, 'update-password from a form body answers 200';
        my ($form_login) = $srv->login($rider->{email}, 'form-password-1');
        is $form_login, 200, 'login with the password set from a form works';

        my ($bad_status) = $srv->request(POST => '/users/update-password',
            json => { token => 'not-a-token', new_password => 'whatever-123' });
        is $bad_status, 400, 'an invalid reset token answers 400';
    };

    subtest 'non-string parameters in a JSON body' => sub {
        my ($email_status, $email_body) = $srv->request(POST => '/users/reset-password', json => { email => 5 });
        is $email_status, 422, 'a number as the reset email answers 422';
        is_deeply $email_body->{detail}[0]{loc}, ['body', 'email'], 'loc names the email in the body';
        is $email_body->{detail}[0]{msg}, 'email must be a string', 'msg says the email must be a string';

        my ($password_status, $password_body) = $srv->request(POST => '/users/update-password',
            json => { token => 'not-a-token', new_password => 12345678 });
        is $password_status, 422, 'a number as the new password answers 422';
        is_deeply $password_body->{detail}[0]{loc}, ['body', 'new_password'], 'loc names the new password in the body';

        my ($ignored_status) = $srv->request(POST => '/users/reset-password',
            json => { email => unique_email('extra'), remember => JSON::PP::true });
        is $ignored_status, 202, 'an unknown non-string field is still ignored';
    };

    subtest 'odd bytes in form parameters' => sub {
        my ($utf8_status, $utf8) = $srv->request(POST => '/users/reset-password?email=%FFrider%40example.org');
        is $utf8_status, 422, 'a reset email that is not UTF-8 answers 422';
        is_deeply $utf8->{detail}[0]{loc}, ['query', 'email'], 'loc names the email in the query';

        my ($nul_status, $nul) = $srv->request(POST => '/users/reset-password', body => 'email=rider%40example.org%00x',
            type => 'application/x-www-form-urlencoded');
        is $nul_status, 422, 'a reset email with an encoded NUL answers 422';
        is_deeply $nul->{detail}[0]{loc}, ['body', 'email'], 'loc names the email in the body';

        my ($token_status, $token) = $srv->request(GET => '/users/verify-email?token=abc%00def');
        is $token_status, 422, 'a verification token with an encoded NUL answers 422';
        is_deeply $token->{detail}[0]{loc}, ['query', 'token'], 'loc names the token';
    };

    subtest 'reset requests are rate-limited per email' => sub {
        my $email = unique_email('impatient');
        my ($status, $headers);
        for my $attempt (1 .. 10) {
            ($status, undef, $headers) = $srv->request(POST => '/users/reset-password', json => { email => $email });
            last if $status == 429;
        }
        is $status, 429, 'repeated reset requests for one email answer 429';
        like $headers->{'retry-after'} // '', qr/\A[1-9][0-9]*\z/, '429 carries Retry-After in seconds';
        my ($other) = $srv->request(POST => '/users/reset-password', json => { email => unique_email('patient') });
        is $other, 202, 'another email is not limited';
    };

    subtest 'read users' => sub {
        my $ada = $srv->new_rider(name => 'Ada');
        my $bob = $srv->new_rider(name => 'Bob');

        my ($me_status, $me) = $srv->request(GET => '/users/me', token => $ada->{access});
        is $me_status, 200, '/users/me answers 200';
        is_deeply [sort keys %$me], \@user_fields, '/users/me has the user fields';
        is $me->{_id}, $ada->{id}, '/users/me is the caller';

        my ($own_status, $own) = $srv->request(GET => "/users/$ada->{id}", token => $ada->{access});
        is $own_status, 200, 'GET own user answers 200';
        is $own->{email}, $ada->{email}, 'own user includes the email';

        my ($other_status, $other) = $srv->request(GET => "/users/$bob->{id}", token => $ada->{access});
        is $other_status, 200, 'GET another user answers 200';
        is_deeply [sort keys %$other], \@public_fields, 'another user is the public profile, no email';
        is $other->{name}, 'Bob', 'public profile carries the name';

        my ($missing_status, $missing) = $srv->request(GET => '/users/0123456789abcdef01234567', token => $ada->{access});
        is $missing_status, 404, 'unknown user answers 404';
        is $missing->{detail}, 'User not found', 'unknown user detail';
        my ($bad_id_status, $bad_id) = $srv->request(GET => '/users/not-an-id', token => $ada->{access});
        is $bad_id_status, 422, 'malformed user id answers 422';
        is_deeply $bad_id->{detail}[0]{loc}, ['path', 'user_id'], 'loc names the user_id path parameter';
    };

    subtest 'update users' => sub {
        my $ada = $srv->new_rider(name => 'Ada');
        my $bob = $srv->new_rider(name => 'Bob');
        my %sent = (%{ $ada->{user} }, name => 'Ada L.', phonenumber => '+41 79 000 00 00', instagram => 'ada.rides',
            country => 'FR', password => 'ignored-password', is_verified => JSON::PP::true, _id => $bob->{id});

        my ($status, $user) = $srv->request(PUT => "/users/$ada->{id}", token => $ada->{access}, json => \%sent);
        is $status, 200, 'PUT own user answers 200';
        is $user->{name}, 'Ada L.', 'name applied';
        is $user->{phonenumber}, '+41 79 000 00 00', 'phonenumber applied';
        is $user->{instagram}, 'ada.rides', 'instagram applied';
        is $user->{country}, 'FR', 'country applied';
        ok !$user->{is_verified}, 'is_verified in the body is ignored';
        is $user->{_id}, $ada->{id}, '_id in the body is ignored';
        ok !exists $user->{password}, 'no password in the answer';
        my (undef, $me) = $srv->request(GET => '/users/me', token => $ada->{access});
        is $me->{name}, 'Ada L.', 'the change is stored';
        my ($login) = $srv->login($ada->{email}, $ada->{password});
        is $login, 200, 'password in the body is ignored';

        my ($other_status, $other) = $srv->request(PUT => "/users/$bob->{id}", token => $ada->{access},
            json => { %{ $bob->{user} }, name => 'Hijacked' });
        is $other_status, 403, 'PUT another user answers 403';
        is $other->{detail}, 'Not allowed', 'PUT another user detail';
        my (undef, $bob_now) = $srv->request(GET => '/users/me', token => $bob->{access});
        is $bob_now->{name}, 'Bob', 'the other user is unchanged';

        my ($email_status) = $srv->request(PUT => "/users/$ada->{id}", token => $ada->{access},
            json => { %$me, email => unique_email('changed') });
        is $email_status, 422, 'changing the email answers 422';

        my ($case_status, $case_user) = $srv->request(PUT => "/users/$ada->{id}", token => $ada->{access},
            json => { %$me, email => '  ' . uc($ada->{email}) . ' ', name => 'Ada Case' });
        is $case_status, 200, 'the same email in another letter case and with spaces answers 200';
        is $case_user->{name}, 'Ada Case', 'the other fields are applied';

        my ($clear_status, $cleared) = $srv->request(PUT => "/users/$ada->{id}", token => $ada->{access},
            json => { %$me, phonenumber => undef, instagram => undef, country => undef });
        is $clear_status, 200, 'PUT with null optionals answers 200';
        is $cleared->{phonenumber}, undef, 'null clears phonenumber';
        is $cleared->{instagram}, undef, 'null clears instagram';
        is $cleared->{country}, undef, 'null clears country';
        is $cleared->{name}, 'Ada L.', 'name from the body is kept';
    };

    subtest 'delete users' => sub {
        my $ada = $srv->new_rider(name => 'Ada');
        my $bob = $srv->new_rider(name => 'Bob');
        my $journey = $srv->create_journey($ada, name => 'Doomed');
        my $verify_token = $srv->wait_mail_token(verify => $ada->{email});
        ok $verify_token, 'the user to delete has a verification mail' or return;
        $srv->add_marker($ada, $journey->{_id}, 6.6, 46.5);

        my $bob_journey = $srv->create_journey($bob, name => 'Kept');
        my $bob_marker = $srv->add_marker($bob, $bob_journey->{_id}, 7.0, 46.0);
        my ($other_status, $other) = $srv->request(DELETE => "/users/$bob->{id}", token => $ada->{access});
        is $other_status, 403, 'DELETE another user answers 403';
        is $other->{detail}, 'Not allowed', 'DELETE another user detail';
        my ($bob_status, $bob_now) = $srv->request(GET => '/users/me', token => $bob->{access});
        is $bob_status, 200, 'the other user still opens /users/me';
        is_deeply $bob_now, $bob->{user}, 'the other user is unchanged';
        my (undef, $bob_journeys) = $srv->request(GET => "/users/$bob->{id}/journeys", token => $bob->{access});
        is_deeply [map { $_->{_id} } @$bob_journeys], [$bob_journey->{_id}], 'the other user keeps the journey';
        my (undef, $bob_markers) = $srv->request(GET => "/journeys/$bob_journey->{_id}/markers", token => $bob->{access});
        is_deeply $bob_markers, [$bob_marker], 'the other user keeps the marker';
        my ($bob_login) = $srv->login($bob->{email}, $bob->{password});
        is $bob_login, 200, 'the other user can still log in';

        my ($status, $body) = $srv->request(DELETE => "/users/$ada->{id}", token => $ada->{access});
        is $status, 200, 'DELETE own user answers 200';
        is_deeply $body, { message => 'User deleted successfully.' }, 'DELETE message';

        my ($me_status) = $srv->request(GET => '/users/me', token => $ada->{access});
        is $me_status, 401, 'the deleted user\'s access token answers 401';
        my ($refresh_status) = $srv->request(POST => '/auth/refresh', json => { refresh_token => $ada->{refresh} });
        is $refresh_status, 401, 'the deleted user\'s refresh token answers 401';
        my ($login_status) = $srv->login($ada->{email}, $ada->{password});
        is $login_status, 400, 'the deleted user cannot log in';
        my ($user_status) = $srv->request(GET => "/users/$ada->{id}", token => $bob->{access});
        is $user_status, 404, 'the deleted user is not found';
        my ($journey_status) = $srv->request(GET => "/journeys/$journey->{_id}", token => $bob->{access});
        is $journey_status, 404, 'the deleted user\'s journey is gone';
        my ($list_status, $list) = $srv->request(GET => "/users/$ada->{id}/journeys", token => $bob->{access});
        ok $list_status == 404 || ($list_status == 200 && !@$list), 'the deleted user lists no journeys';

        my ($verify_status, $verify) = $srv->request(GET => '/users/verify-email?' . $srv->query_string(token => $verify_token));
        is $verify_status, 404, 'verifying the deleted user answers 404';
        is $verify->{detail}, 'User not found', 'verifying the deleted user detail';

        my ($register_status) = $srv->register(email => $ada->{email}, name => 'Ada', password => 'fresh-start-1');
        is $register_status, 201, 'the email can be registered again';
    };
});

done_testing;
