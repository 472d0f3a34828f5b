#!/usr/bin/env perl
# Mail through the Resend transport, end to end: a real `kairos serve` whose
# RESEND_API_URL points at a stand-in for Resend on loopback. The stand-in
# either records each request and answers 200, or accepts and never answers.
use strict;
use warnings;
use File::Temp ();
use FindBin;
use lib "$FindBin::Bin/../lib";

use IO::Socket::INET;
use JSON::PP;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(time sleep);

use KairosTest qw(for_each_backend unique_email);

my $API_KEY = 're_test_' . KairosTest::random_hex(8);

# Starts the stand-in in a child process. Mode 'record' appends one JSON line
# per request to $file; mode 'hang' accepts connections and never answers.
# The child stops by itself after 60 s. Returns (pid, port).
sub start_resend {
    my ($mode, $file) = @_;
    my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1)
        or die "listen: $!";
    my $port = $listener->sockport;
    my $pid = fork // die "fork: $!";
    return ($pid, $port) if $pid;

    my $deadline = time + 60;
    my @held;
    while (time < $deadline) {
        $listener->blocking(0);
        my $conn = $listener->accept;
        unless ($conn) {
            sleep 0.02;
            next;
        }
        if ($mode eq 'hang') {
            push @held, $conn;
            next;
        }
        $conn->blocking(1);
        my %request = (headers => {});
        my $line = <$conn> // next;
        @request{qw(method path)} = split ' ', $line;
        while (defined(my $header = <$conn>)) {
            $header =~ s/\r?\n\z//;
            last if $header eq '';
            my ($name, $value) = split /:\s*/, $header, 2;
            $request{headers}{ lc $name } = $value;
        }
        my $body = '';
        read $conn, $body, $request{headers}{'content-length'} // 0;
        $request{body} = $body;
        open my $out, '>>', $file or die "open $file: $!";
        print $out encode_json(\%request), "\n";
        close $out;
        print $conn "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
            . "Connection: close\r\n\r\n{\"id\":\"email\"}";
        close $conn;
    }
    _exit(0);
}

sub read_requests {
    my ($file) = @_;
    open my $in, '<', $file or return ();
    return map { decode_json($_) } <$in>;
}

sub resend_env {
    my ($port) = @_;
    return {
        RESEND_API_KEY => $API_KEY,
        RESEND_API_URL => "http://127.0.0.1:$port",
        MAIL_FROM      => 'Kairos <no-reply@kairos.example>',
    };
}

subtest 'verification mail reaches Resend once' => sub {
    my $file = File::Temp::tempdir('kairos-resend-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/requests.jsonl';
    my ($resend, $port) = start_resend('record', $file);

    for_each_backend({ env => resend_env($port) }, sub {
        my ($srv) = @_;
        my $email = unique_email('resend');
        my ($status) = $srv->register(email => $email, name => 'Ada <Lovelace>', password => 'correct horse battery');
        is $status, 201, 'register answers 201';

        my @requests;
        for (1 .. 200) {
            @requests = grep { ($_->{body} // '') =~ /\Q$email\E/ } read_requests($file);
            last if @requests;
            sleep 0.05;
        }
        is scalar(@requests), 1, 'one request reached Resend';
        my $request = $requests[0] // { headers => {}, body => '{}' };
        is $request->{method}, 'POST', 'method is POST';
        is $request->{path}, '/emails', 'path is /emails';
        is $request->{headers}{authorization}, "Bearer $API_KEY", 'Authorization carries the API key';
        like $request->{headers}{'idempotency-key'} // '', qr/\Akairos-mail-[0-9a-f]{24}\z/,
            'Idempotency-Key names the outbox entry';
        like $request->{headers}{'content-type'} // '', qr{\Aapplication/json}, 'body is JSON';

        my $mail = eval { decode_json($request->{body}) } // {};
        is_deeply $mail->{to}, [$email], 'to is the registered address';
        is $mail->{from}, 'Kairos <no-reply@kairos.example>', 'from is MAIL_FROM';
        ok length($mail->{subject} // ''), 'subject is set';
        like $mail->{html} // '', qr{http://localhost:3000/verify\?token=ey}, 'HTML carries the verification link';
        like $mail->{text} // '', qr{http://localhost:3000/verify\?token=ey}, 'text carries the verification link';
        like $mail->{html} // '', qr/Ada &lt;Lovelace&gt;/, 'HTML escapes the name';

        sleep 1.5;
        my @again = grep { ($_->{body} // '') =~ /\Q$email\E/ } read_requests($file);
        is scalar(@again), 1, 'the mail is not sent twice';
        unlike $srv->log_text, qr/\Q$API_KEY\E/, 'the API key is not in the log';
    });

    kill 'TERM', $resend;
    waitpid $resend, 0;
};

subtest 'a hung Resend does not delay register' => sub {
    my ($resend, $port) = start_resend('hang');

    for_each_backend({ env => resend_env($port) }, sub {
        my ($srv) = @_;
        my $started = time;
        my ($status) = $srv->register(email => unique_email('hung'), name => 'Bo', password => 'correct horse battery');
        my $elapsed = time - $started;
        is $status, 201, 'register answers 201 while Resend hangs';
        # The Resend transport waits up to 15 s; an answer well under that shows
        # the request did not wait on mail.
        cmp_ok $elapsed, '<', 10, sprintf('register answered in %.2f s', $elapsed);
    });

    kill 'TERM', $resend;
    waitpid $resend, 0;
};

done_testing;
